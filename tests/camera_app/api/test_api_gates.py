"""The streaming gates through the owner API: a real server on loopback, a real HTTP client.

For each profile: the stream cannot start while any gate is missing (the 409 names it), it starts
once all hold, and each gate closing stops it at once (LED off, ``stream_stopped`` audited with
the reason). Viewers: a parent outside their schedule or room is refused, a viewer of one camera
cannot reach another, revoked and expired viewers lose access.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from gpiozero.pins.mock import MockFactory

from firmware.indicator import StreamingIndicator
from privacy.audit import AuditLog, verify
from privacy.gates.roles import Role
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import CameraInfo, ViewerStore
from testkit.api import (
    MONDAY_10,
    OWNER,
    OWNER_PASSWORD,
    ApiFactory,
    Client,
    RunningApi,
    make_uscc,
)
from testkit.gates import (
    DAILY_9_TO_21,
    WEEKDAYS_8_TO_17,
    audit_events,
    invite_parent,
    kindergarten,
    opt_in,
    ready_kindergarten,
    register,
)
from testkit.qr import pdf_qr_texts


def state(owner: Client, camera: str) -> dict:
    reply = owner.get(f"/api/cameras/{camera}/streaming")
    assert reply.status == 200, reply.body
    return reply.body


def start(owner: Client, camera: str):
    return owner.post(f"/api/cameras/{camera}/streaming/start")


# --- home ---------------------------------------------------------------------------------------


def test_home_stream_needs_opt_in_and_registration_and_stops_when_either_goes(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()

    refused = start(owner, "cam1")
    assert refused.status == 409
    assert refused.error == "gates_closed"
    assert refused.body["closed"] == ["opt_in", "registration"]
    assert not api.led_on()

    wrong = owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "stream cam1"})
    assert wrong.status == 422 and wrong.error == "confirmation_mismatch"
    assert state(owner, "cam1")["opted_in"] is False

    opt_in(owner, "cam1")
    assert start(owner, "cam1").body["closed"] == ["registration"]

    reg = register(owner, "owner")
    started = start(owner, "cam1")
    assert started.status == 200, started.body
    assert started.body["state"] == "streaming"
    assert api.led_on()

    # gate closes: registration revoked -> stream stops at once, LED off, reason audited
    revoked = owner.post(f"/api/registrations/{reg}/revoke", {"reason": "moving out"})
    assert revoked.status == 200
    after = state(owner, "cam1")
    assert after["state"] == "monitoring"
    assert "registration" in after["last_stop_reason"]
    assert not api.led_on()

    register(owner, "owner")
    assert start(owner, "cam1").status == 200
    assert owner.post("/api/cameras/cam1/streaming/opt-out").status == 200
    assert state(owner, "cam1")["state"] == "monitoring"
    assert not api.led_on()

    events = audit_events(api)
    names = [e["event"] for e in events]
    for expected in (
        "setup",
        "login_ok",
        "opt_in",
        "registration_added",
        "stream_started",
        "registration_revoked",
        "stream_stopped",
        "opt_out",
    ):
        assert expected in names
    stops = [e for e in events if e["event"] == "stream_stopped"]
    assert "registration" in stops[0]["reason"]
    assert stops[1]["reason"] == "owner opted out"
    conn = api.db()
    try:
        assert verify(conn).ok
    finally:
        conn.close()


def test_owner_stop_and_status_in_chinese(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    zh = owner.get("/api/cameras/cam1/streaming", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    reasons = {g["gate"]: g["reason"] for g in zh.body["gates"]}
    assert "实名登记" in reasons["registration"]
    opt_in(owner, "cam1")
    register(owner, "owner")
    assert start(owner, "cam1").status == 200
    stopped = owner.post("/api/cameras/cam1/streaming/stop", {"reason": "dinner time"})
    assert stopped.body["state"] == "monitoring"
    assert stopped.body["last_stop_reason"] == "dinner time"


def test_no_stream_without_a_working_indicator_led(start_api: ApiFactory) -> None:
    pins = MockFactory()
    blocker = StreamingIndicator(17, pin_factory=pins)  # holds GPIO17: the app's LED cannot
    led = StreamingIndicator(17, pin_factory=pins)
    assert not led.available
    api = start_api(indicator=led, pins=pins)
    owner = api.owner()
    opt_in(owner, "cam1")
    register(owner, "owner")
    refused = start(owner, "cam1")
    assert refused.status == 409
    assert refused.body["closed"] == ["indicator"]
    blocker.close()


def test_config_cannot_switch_the_indicator_off() -> None:
    from camera_app.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="indicator LED cannot be disabled"):
        parse_config({"streaming": {"indicator": False}})


# --- kindergarten -------------------------------------------------------------------------------


def test_kindergarten_gates(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    assert start(owner, "kg-a").body["closed"] == ["opt_in", "registration", "guardian_consent"]
    register(owner, "owner")  # a home registration is not an institution's
    assert "registration" in start(owner, "kg-a").body["closed"]
    consent = ready_kindergarten(api, owner)
    assert start(owner, "kg-a").status == 200
    assert api.led_on()

    revoked = owner.post(f"/api/consents/{consent}/revoke")
    assert revoked.status == 200
    after = state(owner, "kg-a")
    assert after["state"] == "monitoring"
    assert "guardian_consent" in after["last_stop_reason"]
    assert not api.led_on()


def test_kindergarten_consent_end_date_stops_the_stream_by_itself(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    register(owner, "institution", uscc=make_uscc("12110000400001234"))
    owner.post(
        "/api/cameras/kg-a/consents",
        {"reference": "forms", "guardians": 3, "valid_until": "2026-11-17"},
    )
    opt_in(owner, "kg-a")
    assert start(owner, "kg-a").status == 200
    api.clock.advance(2 * 86400)  # past the end of 17 November; nobody calls the API
    assert api.wait_for(lambda: not api.led_on())
    assert "guardian_consent" in state(owner, "kg-a")["last_stop_reason"]


def test_jurisdiction_switch_disables_live_viewing_entirely(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api, permitted=False)
    ready_kindergarten(api, owner)
    refused = start(owner, "kg-a")
    assert refused.status == 409 and refused.body["closed"] == ["live_viewing_allowed"]
    _, parent = invite_parent(owner, api)
    watch = parent.get("/api/cameras/kg-a/live")
    assert watch.status == 403 and watch.error == "live_viewing_forbidden"


def test_a_parent_without_watermark_is_refused_and_the_list_shows_the_effective_one(
    start_api: ApiFactory,
) -> None:
    api, owner = kindergarten(start_api)
    refused = owner.post(
        "/api/viewers",
        {
            "username": "parent-wu",
            "role": "parent",
            "rooms": ["Sunflower"],
            "schedule": WEEKDAYS_8_TO_17,
            "expires_on": "2027-01-31",
            "watermark": False,
        },
    )
    assert refused.status == 422 and refused.body["reason"].startswith("watermark:")
    assert "always" in refused.body["reason"]
    assert owner.get("/api/viewers").body == []
    assert not [e for e in audit_events(api) if e["event"] == "viewer_invited"]

    # a parent invited before this was refused has watermark 0 stored: it is shown (and applied)
    conn = api.db()
    try:
        ViewerStore(conn, api.clock, AuditLog(conn, api.clock)).invite(
            "parent-old",
            Role.PARENT,
            cameras=[],
            rooms=["Sunflower"],
            schedule=Schedule.model_validate(WEEKDAYS_8_TO_17),
            watermark=False,
            expires_at=MONDAY_10 + 86400 * 60,
            actor=OWNER,
        )
        stored = conn.execute("SELECT watermark FROM viewers").fetchone()[0]
    finally:
        conn.close()
    assert stored == 0
    invite_parent(owner, api)  # leaves watermark out: on
    listed = {v["username"]: v["watermark"] for v in owner.get("/api/viewers").body}
    assert listed == {"parent-old": True, "parent-li": True}


def test_parent_schedule_room_and_camera_are_enforced(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    ready_kindergarten(api, owner)
    assert start(owner, "kg-a").status == 200
    viewer_id, parent = invite_parent(owner, api)

    allowed = parent.get("/api/cameras/kg-a/live")
    assert allowed.status == 200, allowed.body
    assert allowed.body["audio"] is False  # never audio in a kindergarten
    assert allowed.body["watermark"] is True
    assert allowed.body["seconds_left"] == pytest.approx(7 * 3600, abs=1)

    # another room's camera: refused, and not listed
    other = parent.get("/api/cameras/kg-b/live")
    assert other.status == 403 and other.error == "wrong_camera"
    assert [c["id"] for c in parent.get("/api/cameras").body] == ["kg-a"]
    # an id that does not exist answers exactly like one that is not granted
    assert parent.get("/api/cameras/nope/live").body == other.body

    # owner-only routes
    assert parent.get("/api/cameras/kg-a/streaming").status == 403
    assert parent.post("/api/cameras/kg-a/streaming/stop").status == 403
    assert parent.get("/api/audit").status == 403

    # outside the schedule: Monday 17:30, then Saturday 10:00
    api.clock.advance(7.5 * 3600)
    late = parent.get("/api/cameras/kg-a/live", headers={"Accept-Language": "zh-CN"})
    assert late.status == 403 and late.error == "outside_viewing_hours"
    assert "时段" in late.body["reason"]
    api.clock.set_wall(MONDAY_10 + 5 * 86400)
    assert parent.get("/api/cameras/kg-a/live").error == "outside_viewing_hours"
    api.clock.set_wall(MONDAY_10 + 7 * 86400)
    assert parent.get("/api/cameras/kg-a/live").status == 200

    # revoked: the session dies with the grant
    assert owner.post(f"/api/viewers/{viewer_id}/revoke", {"reason": "left"}).status == 200
    assert parent.get("/api/cameras/kg-a/live").status == 401
    assert (
        api.client()
        .post("/api/login", {"username": "parent-li", "password": "p4rent-pass!"})
        .status
        == 401
    )


def test_parent_access_expires_and_is_revoked_automatically(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    ready_kindergarten(api, owner)
    start(owner, "kg-a")
    _, parent = invite_parent(owner, api, expires_on="2026-11-20")
    assert parent.get("/api/cameras/kg-a/live").status == 200
    api.clock.set_wall(MONDAY_10 + 7 * 86400)  # the next Monday, past the end date
    assert api.wait_for(
        lambda: any(
            e["event"] == "viewer_revoked" and e["reason"] == "expired" for e in audit_events(api)
        )
    )
    assert parent.get("/api/cameras/kg-a/live").status == 401


def test_parent_invitation_needs_schedule_and_end_date(start_api: ApiFactory) -> None:
    _, owner = kindergarten(start_api)
    base = {"username": "p2", "role": "parent", "cameras": ["kg-a"]}
    no_schedule = owner.post("/api/viewers", {**base, "expires_on": "2027-01-01"})
    assert no_schedule.status == 422 and "schedule" in no_schedule.body["reason"]
    no_end = owner.post("/api/viewers", {**base, "schedule": WEEKDAYS_8_TO_17})
    assert no_end.status == 422 and "expires_on" in no_end.body["reason"]
    family = owner.post("/api/viewers", {"username": "f", "role": "family", "cameras": ["kg-a"]})
    assert family.status == 422 and "profile" in family.body["reason"]
    assert owner.get("/api/viewers").body == []


# --- home, two cameras: cross-camera isolation --------------------------------------------------

HOME_CAMERAS = [
    CameraInfo("porch", "Porch", None, "home"),
    CameraInfo("garden", "Garden", None, "home"),
]


def test_family_viewer_of_one_camera_cannot_reach_another(start_api: ApiFactory) -> None:
    api = start_api(cameras=HOME_CAMERAS)
    owner = api.owner()
    register(owner, "owner")
    for camera in ("porch", "garden"):
        opt_in(owner, camera)
        assert start(owner, camera).status == 200
    invited = owner.post(
        "/api/viewers", {"username": "grandma", "role": "family", "cameras": ["porch"]}
    )
    code = invited.body["code"]
    guest = api.client()
    guest.post("/api/invites/accept", {"code": code, "password": "grandma-2026", "consent": True})
    grandma = guest.login("grandma", "grandma-2026")

    mine = grandma.get("/api/cameras/porch/live")
    assert mine.status == 200 and mine.body["audio"] is True and mine.body["watermark"] is True
    theirs = grandma.get("/api/cameras/garden/live")
    assert theirs.status == 403 and theirs.error == "wrong_camera"
    assert [c["id"] for c in grandma.get("/api/cameras").body] == ["porch"]
    for path in (
        "/api/cameras/garden/streaming",
        "/api/cameras/porch/streaming",
        "/api/registrations",
        "/api/viewers",
    ):
        assert grandma.get(path).status == 403
    assert grandma.post("/api/cameras/garden/streaming/stop").status == 403
    assert api.led_on()  # nothing a viewer did stopped anything

    # the owner stopping a stream is seen by the viewer
    owner.post("/api/cameras/porch/streaming/stop")
    stopped = grandma.get("/api/cameras/porch/live")
    assert stopped.status == 409 and stopped.error == "not_live"
    assert api.led_on()  # garden still streams
    owner.post("/api/cameras/garden/streaming/stop")
    assert not api.led_on()


# --- merchant -----------------------------------------------------------------------------------


def merchant(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Front counter"},
            "streaming": {
                "profile": "merchant",
                "notice_reconfirm_days": 30,
                "public_url": "https://shop-cam.example.com/",
            },
        }
    )
    return api, api.owner()


def test_merchant_notice_kit_gates_the_stream(start_api: ApiFactory, tmp_path: Path) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    assert start(owner, "counter").body["closed"] == [
        "notice_posted",
        "notice_current",
        "notice_hours",
    ]
    made = owner.post(
        "/api/cameras/counter/notices",
        {
            "operator": "张记小笼包 Zhang's Dumplings",
            "purpose": "直播店内制作过程 / Livestream of our kitchen",
            "contact": "+86 21 5555 0100",
            "hours": DAILY_9_TO_21,
        },
    )
    assert made.status == 201, made.body
    notice_id = made.body["id"]
    # the sign: a real PDF whose QR code opens the public notice page
    sign = owner.get(made.body["sign"])
    assert sign.status == 200 and sign.raw.startswith(b"%PDF")
    pdf = tmp_path / "sign.pdf"
    pdf.write_bytes(sign.raw)
    url = made.body["url"]
    assert url in pdf_qr_texts(pdf, tmp_path)  # several decoders and resolutions: never by chance
    assert url.endswith(f"/notice/{notice_id}")
    page = api.client().get(urlsplit(url).path)  # no login: the page is public
    assert page.status == 200
    assert "张记小笼包" in page.raw.decode() and "Not streaming now" in page.raw.decode()
    # styled by a stylesheet the page's CSP allows (an inline <style> would be blocked)
    assert "<style" not in page.raw.decode() and 'href="/web/notice.css"' in page.raw.decode()
    css = api.client().get("/web/notice.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")

    assert start(owner, "counter").body["closed"] == ["notice_posted", "notice_current"]
    bad = owner.post(f"/api/notices/{notice_id}/attest", {"confirmation": "yes"})
    assert bad.status == 422
    assert owner.post(f"/api/notices/{notice_id}/attest", {"confirmation": "posted"}).status == 200
    assert start(owner, "counter").status == 200
    assert "Streaming live now" in api.client().get(urlsplit(url).path).raw.decode()

    # 30 days without re-confirmation: the ticker stops the stream and logs the lapse once
    api.clock.advance(30 * 86400)
    assert api.wait_for(lambda: not api.led_on())
    owner = api.client().login(OWNER, OWNER_PASSWORD)  # the month-old session has expired
    st = state(owner, "counter")
    assert st["state"] == "monitoring" and "notice_current" in st["last_stop_reason"]
    lapses = [e for e in audit_events(api) if e["event"] == "notice_expired"]
    assert len(lapses) == 1 and lapses[0]["notice_id"] == notice_id
    assert start(owner, "counter").body["closed"] == ["notice_current"]
    owner.post(f"/api/notices/{notice_id}/attest", {"confirmation": "posted"})
    assert start(owner, "counter").status == 200


def test_merchant_stream_stops_outside_posted_hours_and_public_links(
    start_api: ApiFactory,
) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    made = owner.post(
        "/api/cameras/counter/notices",
        {
            "operator": "Shop",
            "purpose": "Live kitchen",
            "contact": "shop@example.cn",
            "hours": DAILY_9_TO_21,
        },
    ).body
    owner.post(f"/api/notices/{made['id']}/attest", {"confirmation": "posted"})
    assert start(owner, "counter").status == 200

    link = owner.post("/api/cameras/counter/public-links", {"label": "shop website"})
    assert link.status == 201
    audience = api.client()
    session = audience.post("/api/public/login", {"link": link.body["link"]})
    assert session.status == 200 and session.body["camera_id"] == "counter"
    public = Client(api.url, session.body["token"])
    watch = public.get("/api/cameras/counter/live")
    assert watch.status == 200 and watch.body["audio"] is False
    assert public.get("/api/cameras/counter/streaming").status == 403

    api.clock.advance(11.5 * 3600)  # 21:30
    assert api.wait_for(lambda: not api.led_on())
    assert "notice_hours" in state(owner, "counter")["last_stop_reason"]
    assert public.get("/api/cameras/counter/live").error == "not_live"

    owner.post(f"/api/public-links/{link.body['id']}/revoke")
    assert public.get("/api/cameras/counter/live").status == 401
    again = audience.post("/api/public/login", {"link": link.body["link"]})
    assert again.status == 401


def test_public_links_are_listed_without_their_tokens(start_api: ApiFactory) -> None:
    api, owner = merchant(start_api)
    assert owner.get("/api/public-links").body == []
    kept = owner.post("/api/cameras/counter/public-links", {"label": "shop website"}).body
    api.clock.advance(60)
    gone = owner.post("/api/cameras/counter/public-links", {"label": "old flyer"}).body
    owner.post(f"/api/public-links/{gone['id']}/revoke")

    listed = owner.get("/api/public-links")
    assert listed.status == 200
    assert [(link["label"], link["revoked"]) for link in listed.body] == [
        ("shop website", False),
        ("old flyer", True),
    ]
    first = listed.body[0]
    assert first == {
        "id": kept["id"],
        "camera_id": "counter",
        "label": "shop website",
        "created_at": MONDAY_10,
        "revoked_at": None,
        "revoked": False,
    }
    assert listed.body[1]["revoked_at"] == MONDAY_10 + 60
    for link in (kept, gone):
        assert link["link"] not in listed.raw.decode()
    assert owner.get("/api/public-links?camera_id=counter").body == listed.body
    unknown = owner.get("/api/public-links?camera_id=elsewhere")
    assert unknown.status == 422 and "camera_id" in unknown.body["reason"]

    public = api.client().post("/api/public/login", {"link": kept["link"]}).body["token"]
    refused = api.client().get("/api/public-links", token=public)
    assert refused.status == 403


def test_new_notice_replaces_the_old_one_and_needs_its_own_attestation(
    start_api: ApiFactory,
) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    body = {
        "operator": "Shop",
        "purpose": "Live",
        "contact": "c@example.cn",
        "hours": DAILY_9_TO_21,
    }
    first = owner.post("/api/cameras/counter/notices", body).body
    owner.post(f"/api/notices/{first['id']}/attest", {"confirmation": "posted"})
    assert start(owner, "counter").status == 200
    second = owner.post("/api/cameras/counter/notices", body).body
    # the posted sign no longer matches what the device says: stop until the new one is posted
    assert state(owner, "counter")["state"] == "monitoring"
    old = owner.post(f"/api/notices/{first['id']}/attest", {"confirmation": "posted"})
    assert old.status == 409
    page = api.client().get(f"/notice/{first['id']}")
    assert "replaced" in page.raw.decode()
    owner.post(f"/api/notices/{second['id']}/attest", {"confirmation": "posted"})
    assert start(owner, "counter").status == 200


def test_stream_ends_when_the_server_stops(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    opt_in(owner, "cam1")
    register(owner, "owner")
    start(owner, "cam1")
    assert api.led_on()
    api.server.stop()
    assert not api.led_on()
    stops = [e for e in audit_events(api) if e["event"] == "stream_stopped"]
    assert stops[-1]["reason"] == "service stopping"


def test_update_status_and_the_notice_page_show_models_and_an_announced_change(
    start_api: ApiFactory,
) -> None:
    """The owner API and the public notice page show the running models and, as soon as the
    device has seen one, a behaviour-changing update with the date it may take effect."""
    from camera_app.update.layout import UpdatePaths
    from camera_app.update.state import Pending, UpdateState, save_state

    api, owner = merchant(start_api)
    status = owner.get("/api/update")
    assert status.status == 200 and status.body["pending"] is None
    assert "blazeface_full_range" in status.body["current_models"]
    assert api.client().get("/api/update").status == 401

    paths = UpdatePaths.of(api.paths.root)
    paths.state.parent.mkdir(parents=True, exist_ok=True)
    announced = api.clock.wall()
    save_state(
        paths.state,
        UpdateState(
            pending=Pending(
                version="9.9.0",
                changes_behaviour=["detection"],
                published=announced,
                not_before=announced + 2 * 86400,
                announced_at=announced,
                models={"blazeface_full_range": "0" * 64},
            )
        ),
    )
    pending = owner.get("/api/update").body["pending"]
    assert pending["version"] == "9.9.0" and pending["changes_behaviour"] == ["detection"]
    assert pending["models_changed"] == ["blazeface_full_range"]

    made = owner.post(
        "/api/cameras/counter/notices",
        {"operator": "Shop", "purpose": "Live kitchen", "contact": "shop@example.cn",
         "hours": DAILY_9_TO_21},
    ).body  # fmt: skip
    page = api.client().get(urlsplit(made["url"]).path).raw.decode()
    assert "blazeface_full_range" in page and "Announced change" in page
    assert "9.9.0: detection" in page and "2026-11-18 10:00" in page  # Monday + 2 days
