"""Family recording grants: the owner lets a family viewer see the recordings of chosen cameras
(none by default, audited); they list, view and play those cameras' events, audited with their
name, and never delete one. Every other caller, camera or event is a 404, as for an unknown id.

One real server on loopback (``testkit.api``) is shared by the matrix of every monitoring route
against every caller and camera; each case records its own fresh event (a real MP4 and JPEG), so
the cases do not depend on each other's deletions or on the audit's once-per-viewing window.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_app.api.handlers_device import routes as device_routes
from camera_app.api.handlers_events import routes as events_routes
from firmware.frames import Frame
from privacy.gates.viewers import CameraInfo
from testkit.api import MONDAY_10, ApiFactory, Client, RunningApi, launch, shutdown
from testkit.gates import WEEKDAYS_8_TO_17
from testkit.media import write_motion_video
from testkit.net import wait_until
from testkit.recordings import add_event, audited

CAMERAS = [
    CameraInfo("cam1", "Front door", None, "home"),  # granted to grandma
    CameraInfo("cam2", "Garden", None, "home"),  # grandma is invited to it, not granted
    CameraInfo("kg", "Sunflower room", "Sunflower", "kindergarten"),  # the parent's room
    CameraInfo("shop", "Counter", None, "merchant"),  # the public link's camera
]
PASSWORD = "family-pass-1!"


@dataclass
class World:
    """The shared server and a logged-in client for every kind of caller."""

    api: RunningApi
    clip: Path
    callers: dict[str, Client]
    viewer_ids: dict[str, str]
    counter: Iterator[int]


def _invite(api: RunningApi, owner: Client, body: dict[str, Any]) -> tuple[str, Client]:
    invited = owner.post("/api/viewers", body)
    assert invited.status == 201, invited.body
    guest = api.client()
    accepted = guest.post(
        "/api/invites/accept",
        {"code": invited.body["code"], "password": PASSWORD, "consent": True},
    )
    assert accepted.status == 201, accepted.body
    return invited.body["id"], guest.login(body["username"], PASSWORD)


def _token(api: RunningApi, owner: Client, name: str, scopes: list[str]) -> Client:
    made = owner.post("/api/tokens", {"name": name, "scopes": scopes})
    assert made.status == 201, made.body
    return Client(api.url, made.body["token"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("grants")
    api = launch(root / "data", cameras=CAMERAS)
    try:
        owner = api.owner()
        ids: dict[str, str] = {}
        callers: dict[str, Client] = {"owner": owner}
        ids["grandma"], callers["family, granted cam1"] = _invite(
            api, owner, {"username": "grandma", "role": "family", "cameras": ["cam1", "cam2"]}
        )
        granted = owner.post(f"/api/viewers/{ids['grandma']}/recordings", {"cameras": ["cam1"]})
        assert granted.status == 200, granted.body
        ids["uncle"], callers["family, no grant"] = _invite(
            api, owner, {"username": "uncle", "role": "family", "cameras": ["cam1", "cam2"]}
        )
        ids["aunt"], callers["family, revoked"] = _invite(
            api, owner, {"username": "aunt", "role": "family", "cameras": ["cam1"]}
        )
        aunt = owner.post(f"/api/viewers/{ids['aunt']}/recordings", {"cameras": ["cam1"]})
        assert aunt.status == 200, aunt.body
        assert owner.post(f"/api/viewers/{ids['aunt']}/revoke", {"reason": "moved"}).status == 200
        ids["parent"], callers["parent"] = _invite(
            api,
            owner,
            {
                "username": "parent-li",
                "role": "parent",
                "rooms": ["Sunflower"],
                "schedule": WEEKDAYS_8_TO_17,
                "expires_on": "2027-01-31",
            },
        )
        link = owner.post("/api/cameras/shop/public-links", {"label": "website"})
        session = api.client().post("/api/public/login", {"link": link.body["link"]})
        assert session.status == 200, session.body
        callers["public"] = Client(api.url, session.body["token"])
        callers["token events:read"] = _token(api, owner, "ha", ["events:read"])
        callers["token device:read"] = _token(api, owner, "dash", ["device:read"])
        callers["anonymous"] = api.client()
        picture = np.full((48, 64, 3), 90, np.uint8)
        picture.flags.writeable = False  # as the capture feed hands frames on
        api.preview.put(Frame(picture, 1.0, 1))
        clip = write_motion_video(root / "clip.mp4", frames=20, moving=(3, 17))
        yield World(api, clip, callers, ids, itertools.count())
    finally:
        shutdown(api)


# Every monitoring route: (name, method, path template); "clip range" asks for 100 bytes from
# the middle of the clip
ROUTES = [
    ("list", "GET", "/api/cameras/{camera}/events"),
    ("event", "GET", "/api/events/{event}"),
    ("snapshot", "GET", "/api/events/{event}/snapshot.jpg"),
    ("clip", "GET", "/api/events/{event}/clip.mp4"),
    ("clip range", "GET", "/api/events/{event}/clip.mp4"),
    ("delete", "DELETE", "/api/events/{event}"),
    ("preview", "GET", "/api/cameras/{camera}/preview.jpg"),
    ("health", "GET", "/api/device/health"),
    ("disarm", "POST", "/api/cameras/{camera}/disarm"),
    ("arm", "POST", "/api/cameras/{camera}/arm"),
]
READS = {"list", "event", "snapshot", "clip", "clip range"}  # what a grant or events:read opens


def expected(caller: str, camera: str, route: str) -> int:
    """The status the caller gets; 404 for what they may not see, as for an unknown id."""
    ok = 206 if route == "clip range" else 200
    if caller == "anonymous":
        return 401
    if caller == "family, revoked":
        return 401  # a revoked viewer's sessions are dead: they are logged out everywhere
    if caller == "owner":
        return ok
    if caller == "token events:read":
        return ok if route in READS else 404  # deleting is the owner's alone, never a token's
    if caller == "token device:read":
        return ok if route == "health" else 404
    if caller == "family, granted cam1":
        return ok if camera == "cam1" and route in READS else 404
    return 404  # family without a grant, parent, public, a token without events:read


CALLERS = [
    "owner",
    "token events:read",
    "token device:read",
    "family, granted cam1",
    "family, no grant",
    "family, revoked",
    "parent",
    "public",
    "anonymous",
]


def _path(template: str, camera: str, event: str) -> str:
    return template.format(camera=camera, event=event)


def _exists(api: RunningApi, event_id: str) -> bool:
    conn = api.db()
    try:
        return conn.execute("SELECT 1 FROM events WHERE id = ?", (event_id,)).fetchone() is not None
    finally:
        conn.close()


def _actor(caller: str) -> str:
    return {"owner": "owner", "token events:read": "token:ha", "family, granted cam1": "grandma"}[
        caller
    ]


@pytest.mark.parametrize("route", [r[0] for r in ROUTES])
@pytest.mark.parametrize("camera", ["cam1", "cam2", "kg"])
@pytest.mark.parametrize("caller", CALLERS)
def test_every_monitoring_route_for_every_caller(
    world: World, caller: str, camera: str, route: str
) -> None:
    api = world.api
    _, method, template = next(r for r in ROUTES if r[0] == route)
    event_id = f"ev{next(world.counter)}"
    add_event(api, event_id, MONDAY_10 - 600, clip=world.clip, camera=camera)
    size = world.clip.stat().st_size
    headers = {"Range": f"bytes={size // 2}-{size // 2 + 99}"} if route == "clip range" else None
    armed = api.monitoring.armed
    client = world.callers[caller]
    path = _path(template, camera, event_id)
    reply = client.call(method, path, headers=headers)
    status = expected(caller, camera, route)
    assert reply.status == status, reply.body

    if status == 404:
        # nothing tells it apart from an id that does not exist
        made_up = client.call(method, _path(template, "nocam", "no-such-event"), headers=headers)
        assert (made_up.status, made_up.body) == (reply.status, reply.body)
    if status in (401, 404):
        assert _exists(api, event_id)
        assert [d for _, _, d in audited(api, "recording_viewed") if d["event"] == event_id] == []
        assert api.monitoring.armed == armed
        return

    if route == "list":
        assert event_id in [e["id"] for e in reply.body["events"]]
    elif route == "event":
        assert reply.body["id"] == event_id and reply.body["camera_id"] == camera
    elif route == "snapshot":
        assert reply.headers["Content-Type"] == "image/jpeg" and reply.raw[:2] == b"\xff\xd8"
    elif route == "clip":
        assert reply.raw == world.clip.read_bytes()
    elif route == "clip range":
        assert reply.raw == world.clip.read_bytes()[size // 2 : size // 2 + 100]
    elif route == "delete":
        assert reply.body == {"deleted": event_id} and not _exists(api, event_id)
        assert ("owner", camera, event_id) in [
            (a, c, d["event"]) for a, c, d in audited(api, "event_deleted")
        ]
    elif route == "preview":
        assert reply.headers["Content-Type"] == "image/jpeg" and reply.raw[:2] == b"\xff\xd8"
    elif route == "health":
        assert reply.body["armed"] in (True, False)
    elif route in {"arm", "disarm"}:
        assert reply.body == {"camera_id": camera, "armed": route == "arm"}
    if route in {"snapshot", "clip", "clip range"}:
        what = "snapshot" if route == "snapshot" else "clip"
        seen = [(a, c, d) for a, c, d in audited(api, "recording_viewed") if d["event"] == event_id]
        assert seen == [(_actor(caller), camera, {"event": event_id, "what": what})]


def test_the_matrix_covers_every_monitoring_route() -> None:
    served = {(r.method, r.path) for r in [*events_routes.routes, *device_routes.routes]}
    covered = {
        (method, template.replace("{camera}", "{camera_id}").replace("{event}", "{event_id}"))
        for _, method, template in ROUTES
    }
    assert served == covered


def test_grants_are_off_by_default_shown_and_audited(start_api: ApiFactory, tmp_path: Path) -> None:
    api = start_api(cameras=CAMERAS[:2])
    owner = api.owner()
    viewer_id, grandma = _invite(
        api, owner, {"username": "grandma", "role": "family", "cameras": ["cam1", "cam2"]}
    )
    add_event(api, "ev1", MONDAY_10 - 60, clip=write_motion_video(tmp_path / "c.mp4", frames=10))
    assert owner.get("/api/viewers").body[0]["recordings"] == []
    assert grandma.get("/api/me").body["recordings"] == []
    assert grandma.get("/api/cameras/cam1/events").status == 404

    both = owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": ["cam2", "cam1", "cam1"]})
    assert both.status == 200, both.body
    assert both.body["id"] == viewer_id and both.body["recordings"] == ["cam1", "cam2"]
    assert owner.get("/api/viewers").body[0]["recordings"] == ["cam1", "cam2"]
    assert grandma.get("/api/me").body["recordings"] == ["cam1", "cam2"]
    assert owner.get("/api/me").body["recordings"] == ["cam1", "cam2"]  # the owner's: all
    assert [e["id"] for e in grandma.get("/api/cameras/cam1/events").body["events"]] == ["ev1"]
    assert grandma.get("/api/events/ev1/clip.mp4").status == 200

    # the same grant again changes nothing and records nothing
    assert (
        owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": ["cam1", "cam2"]}).status
        == 200
    )
    narrowed = owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": ["cam2"]})
    assert narrowed.body["recordings"] == ["cam2"]
    assert grandma.get("/api/cameras/cam1/events").status == 404  # at once
    assert grandma.get("/api/events/ev1/clip.mp4").status == 404
    none = owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": []})
    assert none.status == 200 and none.body["recordings"] == []
    assert grandma.get("/api/me").body["recordings"] == []

    assert audited(api, "recordings_granted") == [
        ("owner", "cam1", {"viewer": "grandma"}),
        ("owner", "cam2", {"viewer": "grandma"}),
    ]
    assert audited(api, "recordings_revoked") == [
        ("owner", "cam1", {"viewer": "grandma"}),
        ("owner", "cam2", {"viewer": "grandma"}),
    ]
    assert audited(api, "recording_viewed") == [
        ("grandma", "cam1", {"event": "ev1", "what": "clip"})
    ]


def _grant_rows(api: RunningApi) -> list[tuple[str, str]]:
    conn = api.db()
    try:
        rows = conn.execute("SELECT viewer_id, camera_id FROM recording_grants ORDER BY 1, 2")
        return [(r[0], r[1]) for r in rows]
    finally:
        conn.close()


def _audit_count(api: RunningApi) -> int:
    conn = api.db()
    try:
        return int(conn.execute("SELECT count(*) FROM audit").fetchone()[0])
    finally:
        conn.close()


def test_a_grant_that_cannot_be_given_is_refused_and_changes_nothing(
    start_api: ApiFactory,
) -> None:
    api = start_api(cameras=CAMERAS)
    owner = api.owner()
    grandma_id, grandma = _invite(
        api, owner, {"username": "grandma", "role": "family", "cameras": ["cam1"]}
    )
    assert owner.post(f"/api/viewers/{grandma_id}/recordings", {"cameras": ["cam1"]}).status == 200
    parent_id, parent = _invite(
        api,
        owner,
        {
            "username": "parent-li",
            "role": "parent",
            "rooms": ["Sunflower"],
            "schedule": WEEKDAYS_8_TO_17,
            "expires_on": "2027-01-31",
        },
    )
    gone_id, _ = _invite(api, owner, {"username": "aunt", "role": "family", "cameras": ["cam1"]})
    owner.post(f"/api/viewers/{gone_id}/revoke", {"reason": "moved"})
    rows, records = _grant_rows(api), _audit_count(api)

    cases: list[tuple[Client, str, Any, int, str]] = [
        (owner, "no-such-viewer", {"cameras": []}, 404, "unknown_viewer"),
        (owner, parent_id, {"cameras": ["kg"]}, 422, "wrong_role"),
        (owner, parent_id, {"cameras": []}, 422, "wrong_role"),
        (owner, gone_id, {"cameras": ["cam1"]}, 409, "viewer_inactive"),
        (owner, grandma_id, {"cameras": ["cam2"]}, 422, "invalid_input"),  # not invited to it
        (owner, grandma_id, {"cameras": ["cam1", "nocam"]}, 422, "invalid_input"),
        (owner, grandma_id, {"cameras": ["kg"]}, 422, "invalid_input"),
        (owner, grandma_id, {"cameras": ["CAM1"]}, 422, "invalid_input"),
        (owner, grandma_id, {"cameras": "cam1"}, 422, "invalid_input"),
        (owner, grandma_id, {"cameras": ["cam1"] * 65}, 422, "invalid_input"),
        (owner, grandma_id, {}, 422, "invalid_input"),
        (owner, grandma_id, {"cameras": [], "role": "owner"}, 422, "invalid_input"),
        (grandma, grandma_id, {"cameras": ["cam1"]}, 403, "forbidden"),
        (parent, parent_id, {"cameras": ["kg"]}, 403, "forbidden"),
    ]
    for client, viewer, body, status, error in cases:
        reply = client.post(f"/api/viewers/{viewer}/recordings", body)
        assert (reply.status, reply.error) == (status, error), (viewer, body, reply.body)
        assert reply.body["reason"], reply.body
    for raw, content_type, status in (
        (b"{", "application/json", 400),
        (b'{"cameras": []}', "text/plain", 415),
    ):
        reply = owner.post(
            f"/api/viewers/{grandma_id}/recordings", raw=raw, content_type=content_type
        )
        assert reply.status == status, reply.body
    token = _token(api, owner, "ha", ["events:read"])
    records += 1  # token_created
    assert (
        token.post(f"/api/viewers/{grandma_id}/recordings", {"cameras": []}).error == "token_scope"
    )
    assert api.client().post(f"/api/viewers/{grandma_id}/recordings", {"cameras": []}).status == 401

    assert _grant_rows(api) == rows and _audit_count(api) == records
    assert owner.get("/api/viewers").body[0]["recordings"] == ["cam1"]


def test_a_grant_ends_with_the_viewers_access(start_api: ApiFactory, tmp_path: Path) -> None:
    api = start_api(cameras=CAMERAS[:1])
    owner = api.owner()
    viewer_id, cousin = _invite(
        api,
        owner,
        {"username": "cousin", "role": "family", "cameras": ["cam1"], "expires_on": "2026-11-17"},
    )
    assert owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": ["cam1"]}).status == 200
    add_event(api, "ev1", MONDAY_10 - 60, clip=write_motion_video(tmp_path / "c.mp4", frames=10))
    assert cousin.get("/api/events/ev1/snapshot.jpg").status == 200
    api.clock.advance(2 * 86400)  # past the end of 17 November
    paths = ("/api/cameras/cam1/events", "/api/events/ev1", "/api/events/ev1/clip.mp4")
    # nothing either way: 404 as the grant has ended, or 401 once the service's once-a-second
    # supervision has revoked the expired viewer (it may land between these requests)
    for path in paths:
        assert cousin.get(path).status in (401, 404), path
    assert wait_until(lambda: cousin.get("/api/me").status == 401, timeout=30)
    for path in paths:
        assert cousin.get(path).status == 401, path
    late = owner.post(f"/api/viewers/{viewer_id}/recordings", {"cameras": ["cam1"]})
    assert late.status == 409 and late.error == "viewer_inactive"
    assert len(audited(api, "recording_viewed")) == 1
