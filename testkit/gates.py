"""Steps through the owner API that open (or close) the streaming gates, shared by the API, live
view and relay tests: opt in, register, a kindergarten with its guardians' consent and an invited
parent, and the audit records the server wrote."""

from __future__ import annotations

import json

from privacy.gates.viewers import CameraInfo
from testkit.api import ApiFactory, Client, RunningApi, make_id, make_uscc

WEEKDAYS_8_TO_17 = {
    "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}]
}
DAILY_9_TO_21 = {
    "windows": [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "09:00",
            "end": "21:00",
        }
    ]
}


def audit_events(api: RunningApi) -> list[dict]:
    """Every audit record the server wrote, oldest first: the event, the camera and the details."""
    conn = api.db()
    try:
        rows = conn.execute("SELECT event, camera_id, details FROM audit ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [{"event": r[0], "camera_id": r[1], **json.loads(r[2])} for r in rows]


def opt_in(owner: Client, camera: str) -> None:
    """The owner opts ``camera`` in to streaming, typing the confirmation."""
    reply = owner.post(
        f"/api/cameras/{camera}/streaming/opt-in", {"confirmation": f"STREAM {camera}"}
    )
    assert reply.status == 200, reply.body


def register(owner: Client, kind: str, **extra: str) -> str:
    """Register a real-name identity of ``kind`` (owner, business, institution); returns its id."""
    body = {"kind": kind, "name": "王小明", "resident_id": make_id(), **extra}
    reply = owner.post("/api/registrations", body)
    assert reply.status == 201, reply.body
    assert reply.body["resident_id"].startswith("110") and "*" in reply.body["resident_id"]
    return reply.body["id"]


KG_CAMERAS = [
    CameraInfo("kg-a", "Sunflower room", "Sunflower", "kindergarten"),
    CameraInfo("kg-b", "Rainbow room", "Rainbow", "kindergarten"),
]


def kindergarten(
    start_api: ApiFactory, permitted: bool = True, **streaming: object
) -> tuple[RunningApi, Client]:
    """A server with the kindergarten profile and its two rooms, and its logged-in owner;
    ``streaming`` adds to its ``streaming`` config."""
    api = start_api(
        {
            "streaming": {
                "profile": "kindergarten",
                "live_childcare_viewing_permitted": permitted,
                **streaming,
            }
        },
        cameras=KG_CAMERAS,
    )
    return api, api.owner()


def ready_kindergarten(api: RunningApi, owner: Client) -> str:
    """Open every kindergarten gate of ``kg-a``; returns the guardians' consent id."""
    register(owner, "institution", uscc=make_uscc("12110000400001234"))
    reply = owner.post(
        "/api/cameras/kg-a/consents",
        {
            "reference": "signed forms, office cabinet 3",
            "guardians": 24,
            "valid_until": "2027-07-15",
        },
    )
    assert reply.status == 201, reply.body
    opt_in(owner, "kg-a")
    return reply.body["id"]


def invite_parent(owner: Client, api: RunningApi, **overrides: object) -> tuple[str, Client]:
    """Invite a parent (weekdays 8-17, the Sunflower room; ``overrides`` change the invitation),
    accept the invitation as they would; returns the viewer id and the parent's client."""
    body = {
        "username": "parent-li",
        "role": "parent",
        "rooms": ["Sunflower"],
        "schedule": WEEKDAYS_8_TO_17,
        "expires_on": "2027-01-31",
        **overrides,
    }
    invited = owner.post("/api/viewers", body)
    assert invited.status == 201, invited.body
    code = invited.body["code"]
    guest = api.client()
    no_consent = guest.post(
        "/api/invites/accept", {"code": code, "password": "p4rent-pass!", "consent": False}
    )
    assert no_consent.status == 422 and no_consent.error == "consent_required"
    accepted = guest.post(
        "/api/invites/accept", {"code": code, "password": "p4rent-pass!", "consent": True}
    )
    assert accepted.status == 201, accepted.body
    again = guest.post(
        "/api/invites/accept", {"code": code, "password": "p4rent-pass!", "consent": True}
    )
    assert again.status == 400  # one-time code
    return invited.body["id"], guest.login(str(body["username"]), "p4rent-pass!")


FAMILY_PASSWORD = "grandma-2026"


def invite_family(api: RunningApi, owner: Client, username: str = "grandma") -> None:
    """Invite a family member to ``cam1``, who accepts with :data:`FAMILY_PASSWORD` (and is not
    logged in yet)."""
    invited = owner.post(
        "/api/viewers", {"username": username, "role": "family", "cameras": ["cam1"]}
    )
    assert invited.status == 201, invited.body
    accepted = api.client().post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": FAMILY_PASSWORD, "consent": True},
    )
    assert accepted.status == 201, accepted.body


def live_shop(start_api: ApiFactory, **streaming: object) -> tuple[RunningApi, Client]:
    """A merchant camera ``counter`` streaming inside its posted hours, and its owner;
    ``streaming`` adds to its ``streaming`` config."""
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Counter"},
            "streaming": {
                "profile": "merchant",
                "public_url": "https://shop-cam.example.com",
                **streaming,
            },
        }
    )
    owner = api.owner()
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    notice = owner.post(
        "/api/cameras/counter/notices",
        {"operator": "Shop", "purpose": "Live", "contact": "c@example.cn", "hours": DAILY_9_TO_21},
    ).body
    owner.post(f"/api/notices/{notice['id']}/attest", {"confirmation": "posted"})
    assert owner.post("/api/cameras/counter/streaming/start").status == 200
    return api, owner


def public_link(owner: Client, label: str = "shop website") -> str:
    """A new public viewing link of ``counter``."""
    made = owner.post("/api/cameras/counter/public-links", {"label": label})
    assert made.status == 201, made.body
    return str(made.body["link"])


def audience_member(api: RunningApi, link: str) -> Client:
    """One phone of the public audience, logged in with the shared link."""
    reply = api.client().post("/api/public/login", {"link": link})
    assert reply.status == 200, reply.body
    return Client(api.url, reply.body["token"])


def ended_sessions(api: RunningApi) -> list[dict]:
    """The ``session_ended`` audit records, once there is one. The server writes a record once it
    has closed the peer connection, which is after the viewer sees its track end."""
    assert api.wait_for(lambda: any(e["event"] == "session_ended" for e in audit_events(api)))
    return [e for e in audit_events(api) if e["event"] == "session_ended"]
