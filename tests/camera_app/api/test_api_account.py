"""The caller's own account over the owner API: changing the password (ends the other sessions),
listing and ending one's own login sessions, the invite preview a viewer reads before accepting,
and a viewer's own viewing hours in ``GET /api/me`` with the refusal once their window is over.

Each runs against the real server (``testkit.api``) on a real SQLite database, with the clock set
by the test.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from privacy.gates.viewers import CameraInfo
from testkit.api import MONDAY_10, OWNER, OWNER_PASSWORD, TZ, ApiFactory, Client, RunningApi
from testkit.gates import (
    FAMILY_PASSWORD,
    WEEKDAYS_8_TO_17,
    audit_events,
    invite_family,
    invite_parent,
    kindergarten,
    opt_in,
    ready_kindergarten,
    register,
)

NEW_PASSWORD = "a brand new passphrase"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def login_as(api: RunningApi, username: str, password: str, agent: str) -> Client:
    """Log in from a browser that names itself ``agent``."""
    reply = api.client().post(
        "/api/login",
        {"username": username, "password": password},
        headers={"User-Agent": agent},
    )
    assert reply.status == 200, reply.body
    return Client(api.url, reply.body["token"], headers={"User-Agent": agent})


def family(api: RunningApi, owner: Client) -> Client:
    """A family member invited to cam1, who accepted and logged in."""
    invite_family(api, owner)
    return api.client().login("grandma", FAMILY_PASSWORD)


def public_viewer(api: RunningApi, owner: Client) -> Client:
    """A public viewer of a merchant camera (logged in with a link, holding no account)."""
    link = owner.post("/api/cameras/shop/public-links", {"label": "window sticker"})
    assert link.status == 201, link.body
    session = api.client().post("/api/public/login", {"link": link.body["link"]})
    assert session.status == 200, session.body
    return Client(api.url, session.body["token"])


def merchant_api(start_api: ApiFactory) -> tuple[RunningApi, Client]:
    api = start_api(
        {"streaming": {"profile": "merchant"}},
        cameras=[CameraInfo("shop", "Counter", None, "merchant")],
    )
    return api, api.owner()


# --- password ------------------------------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_the_others(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    laptop = login_as(api, OWNER, OWNER_PASSWORD, LAPTOP)

    changed = owner.post(
        "/api/account/password",
        {"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status == 200, changed.body
    assert changed.body == {"changed": True, "sessions_ended": 1}
    assert owner.get("/api/me").status == 200  # this session goes on
    assert laptop.get("/api/me").status == 401  # the other one is over
    old = api.client().post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
    assert old.status == 401
    api.client().login(OWNER, NEW_PASSWORD)

    records = [e for e in audit_events(api) if e["event"] == "password_changed"]
    assert records == [
        {
            "event": "password_changed",
            "camera_id": None,
            "role": "owner",
            "client": "127.0.0.1",
            "sessions_ended": 1,
        }
    ]
    raw = json.dumps(audit_events(api))
    assert OWNER_PASSWORD not in raw and NEW_PASSWORD not in raw


def test_password_change_refusals_change_nothing(start_api: ApiFactory) -> None:
    api = start_api({"api": {"login_max_failures": 3, "login_window_s": 600}})
    owner = api.owner()
    other = login_as(api, OWNER, OWNER_PASSWORD, LAPTOP)
    wrong = owner.post(
        "/api/account/password", {"current_password": "not it at all", "new_password": NEW_PASSWORD}
    )
    assert wrong.status == 403 and wrong.error == "wrong_password"
    weak = owner.post(
        "/api/account/password", {"current_password": OWNER_PASSWORD, "new_password": "short"}
    )
    assert weak.status == 422 and weak.error == "weak_password"
    assert "new_password" in weak.body["reason"]
    for body in (
        {"current_password": OWNER_PASSWORD},
        {"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD, "extra": 1},
        {"current_password": OWNER_PASSWORD, "new_password": 12345678901},
    ):
        reply = owner.post("/api/account/password", body)
        assert reply.status == 422 and reply.error == "invalid_input", body
    # nothing changed: the old password still opens the account, the other session lives
    api.client().login(OWNER, OWNER_PASSWORD)
    assert other.get("/api/me").status == 200
    assert not [e for e in audit_events(api) if e["event"] == "password_changed"]

    # guessing the current password is throttled like a login, before the password is checked
    for _ in range(2):
        owner.post(
            "/api/account/password", {"current_password": "guess", "new_password": NEW_PASSWORD}
        )
    locked = owner.post(
        "/api/account/password",
        {"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert locked.status == 429 and locked.error == "too_many_attempts"
    api.clock.advance(601)
    again = owner.post(
        "/api/account/password",
        {"current_password": OWNER_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert again.status == 200, again.body


def test_invited_viewers_change_their_password_and_public_viewers_cannot(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()
    grandma = family(api, owner)
    changed = grandma.post(
        "/api/account/password",
        {"current_password": FAMILY_PASSWORD, "new_password": "grandma-2027!"},
    )
    assert changed.status == 200, changed.body
    api.client().login("grandma", "grandma-2027!")
    assert (
        api.client().post("/api/login", {"username": "grandma", "password": FAMILY_PASSWORD}).status
        == 401
    )

    shop_api, shop_owner = merchant_api(start_api)
    public = public_viewer(shop_api, shop_owner)
    for method, path, body in (
        ("POST", "/api/account/password", {"current_password": "x", "new_password": NEW_PASSWORD}),
        ("GET", "/api/account/sessions", None),
        ("POST", "/api/account/sessions/abc/end", None),
    ):
        reply = public.call(method, path, body)
        assert reply.status == 403 and reply.error == "forbidden", path


# --- own login sessions --------------------------------------------------------------------------


def test_own_sessions_are_listed_without_their_tokens(start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()
    phone = login_as(api, OWNER, OWNER_PASSWORD, PHONE)
    api.clock.advance(120)
    laptop = login_as(api, OWNER, OWNER_PASSWORD, LAPTOP)
    api.clock.advance(60)

    listed = phone.get("/api/account/sessions")
    assert listed.status == 200
    sessions = listed.body
    assert len(sessions) == 3  # the harness's own login too
    assert [s["created_at"] for s in sessions] == sorted(
        (s["created_at"] for s in sessions), reverse=True
    )
    newest = sessions[0]
    assert newest["user_agent"] == LAPTOP and newest["client"] == "127.0.0.1"
    assert newest["created_at"] == newest["last_seen_at"] == MONDAY_10 + 120
    assert newest["current"] is False
    mine = [s for s in sessions if s["current"]]
    assert len(mine) == 1 and mine[0]["user_agent"] == PHONE
    assert mine[0]["last_seen_at"] == MONDAY_10 + 180  # this request
    assert set(newest) == {
        "id",
        "created_at",
        "expires_at",
        "last_seen_at",
        "client",
        "user_agent",
        "current",
    }
    for token in (phone.token, laptop.token):
        assert token and token not in listed.raw.decode()
    # the same session keeps its id from one request to the next
    assert laptop.get("/api/account/sessions").body[0]["id"] == newest["id"]


def test_ending_an_own_session_and_not_someone_elses(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    lost_phone = login_as(api, OWNER, OWNER_PASSWORD, PHONE)
    grandma = family(api, owner)
    phone_id = next(s["id"] for s in lost_phone.get("/api/account/sessions").body if s["current"])
    grandma_id = grandma.get("/api/account/sessions").body[0]["id"]

    # another user's session id is as unknown as a made-up one, whoever asks
    assert owner.post(f"/api/account/sessions/{grandma_id}/end").status == 404
    assert grandma.post(f"/api/account/sessions/{phone_id}/end").error == "unknown_session"
    assert owner.post("/api/account/sessions/0123456789abcdef/end").status == 404
    assert grandma.get("/api/me").status == 200 and lost_phone.get("/api/me").status == 200

    ended = owner.post(f"/api/account/sessions/{phone_id}/end")
    assert ended.status == 200 and ended.body == {"ended": True, "id": phone_id}
    assert lost_phone.get("/api/me").status == 401
    assert owner.get("/api/me").status == 200
    assert phone_id not in [s["id"] for s in owner.get("/api/account/sessions").body]
    assert owner.post(f"/api/account/sessions/{phone_id}/end").status == 404
    records = [e for e in audit_events(api) if e["event"] == "login_session_ended"]
    assert records == [
        {
            "event": "login_session_ended",
            "camera_id": None,
            "session": phone_id,
            "role": "owner",
            "current": False,
        }
    ]

    # ending the current session logs out
    own = grandma.get("/api/account/sessions").body[0]
    assert own["current"] is True
    assert grandma.post(f"/api/account/sessions/{own['id']}/end").status == 200
    assert grandma.get("/api/me").status == 401


# --- invitations: the link and the preview -------------------------------------------------------


def _invite(owner: Client, **overrides: object) -> dict:
    body = {
        "username": "parent-wang",
        "role": "parent",
        "rooms": ["Sunflower"],
        "schedule": WEEKDAYS_8_TO_17,
        "expires_on": "2027-01-31",
        **overrides,
    }
    reply = owner.post("/api/viewers", body)
    assert reply.status == 201, reply.body
    return reply.body


def test_invitation_answers_the_code_and_the_join_path(start_api: ApiFactory) -> None:
    _, owner = kindergarten(start_api)
    invited = _invite(owner)
    assert "invite_code" not in invited
    assert len(invited["code"]) >= 16
    assert invited["invite_path"] == f"/#join={invited['code']}"


def test_invite_preview_shows_the_grant_and_terms_without_using_the_code(
    start_api: ApiFactory,
) -> None:
    api, owner = kindergarten(start_api)
    code = _invite(owner)["code"]
    guest = api.client()

    en = guest.post("/api/invites/preview", {"code": code})
    assert en.status == 200, en.body
    body = en.body
    assert body["username"] == "parent-wang" and body["role"] == "parent"
    assert body["cameras"] == [{"id": "kg-a", "name": "Sunflower room", "room": "Sunflower"}]
    assert body["rooms"] == ["Sunflower"]
    assert body["schedule"] == WEEKDAYS_8_TO_17
    assert body["schedule_text"] == "Mon–Fri 08:00–17:00"
    assert body["timezone"] == "Asia/Shanghai"
    assert body["expires_on"] == "2027-01-31"
    assert datetime.fromtimestamp(body["expires_at"], TZ).date().isoformat() == "2027-01-31"
    assert body["watermark"] is True and body["consent_required"] is True
    terms = body["terms"]
    assert terms["lang"] == "en" and terms["text"] == terms["en"]
    assert "viewing hours" in terms["en"] and "观看时段" in terms["zh"]
    assert terms["version"]

    zh = guest.post("/api/invites/preview", {"code": code}, headers={"Accept-Language": "zh-CN"})
    assert zh.body["terms"]["lang"] == "zh" and zh.body["terms"]["text"] == terms["zh"]
    assert zh.body["schedule_text"] == "周一至周五 08:00–17:00"

    # previewing used nothing: the code still creates the account, and only then is it spent
    accepted = guest.post(
        "/api/invites/accept", {"code": code, "password": "p4rent-pass!", "consent": True}
    )
    assert accepted.status == 201, accepted.body
    spent = guest.post("/api/invites/preview", {"code": code})
    assert spent.status == 400 and spent.error == "invalid_invite"
    accepted_records = [e for e in audit_events(api) if e["event"] == "viewer_accepted"]
    assert len(accepted_records) == 1


def test_invite_preview_refuses_like_accept_and_is_throttled(start_api: ApiFactory) -> None:
    api = start_api({"api": {"login_max_failures": 3, "login_window_s": 600}})
    owner = api.owner()
    family = owner.post("/api/viewers", {"username": "gran", "role": "family", "cameras": ["cam1"]})
    code = family.body["code"]
    guest = api.client()

    preview = guest.post("/api/invites/preview", {"code": code})
    assert preview.status == 200
    assert preview.body["consent_required"] is False and preview.body["schedule"] is None
    assert preview.body["cameras"] == [{"id": "cam1", "name": "Front door", "room": None}]

    for body in ({}, {"code": "short"}, {"code": code, "password": "x"}, {"code": 12345678}):
        reply = guest.post("/api/invites/preview", body)
        assert reply.status == 422 and reply.error == "invalid_input", body
    unknown = guest.post("/api/invites/preview", {"code": "not-a-real-code-at-all"})
    accept_unknown = guest.post(
        "/api/invites/accept",
        {"code": "not-a-real-code-at-all", "password": "whatever-pass", "consent": True},
    )
    assert unknown.status == accept_unknown.status == 400
    assert unknown.body == accept_unknown.body
    # a revoked invitation is refused the same way
    other = owner.post(
        "/api/viewers", {"username": "cousin", "role": "family", "cameras": ["cam1"]}
    )
    owner.post(f"/api/viewers/{other.body['id']}/revoke", {"reason": "sent by mistake"})
    assert guest.post("/api/invites/preview", {"code": other.body["code"]}).body == unknown.body

    # three failures from this address: even a good code waits now
    locked = guest.post("/api/invites/preview", {"code": code})
    assert locked.status == 429 and locked.error == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    api.clock.advance(601)
    assert guest.post("/api/invites/preview", {"code": code}).status == 200


# --- a viewer's own hours ----------------------------------------------------------------------


def test_parent_sees_their_own_hours_and_why_they_cannot_watch(start_api: ApiFactory) -> None:
    api, owner = kindergarten(start_api)
    ready_kindergarten(api, owner)
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200
    _, parent = invite_parent(owner, api)

    me = parent.get("/api/me").body  # Monday 10:00, inside Mon-Fri 08:00-17:00
    viewing = me["viewing"]
    assert viewing["schedule"] == WEEKDAYS_8_TO_17
    assert viewing["schedule_text"] == "Mon–Fri 08:00–17:00"
    assert viewing["timezone"] == "Asia/Shanghai" and viewing["expires_on"] == "2027-01-31"
    assert viewing["watermark"] is True
    assert viewing["within_hours"] is True
    assert viewing["window_ends_at"] == MONDAY_10 + 7 * 3600
    assert viewing["next_window_at"] is None
    (camera,) = viewing["cameras"]
    assert camera["id"] == "kg-a" and camera["name"] == "Sunflower room"
    assert camera["live"] is True and camera["may_watch_now"] is True and camera["reason"] is None
    assert camera["window_ends_at"] == MONDAY_10 + 7 * 3600

    # inside the hours but the stream stopped: "not live", not "your hours ended"
    owner.post("/api/cameras/kg-a/streaming/stop")
    stopped = parent.get("/api/cameras/kg-a/live")
    assert stopped.status == 409 and stopped.error == "not_live"
    camera = parent.get("/api/me").body["viewing"]["cameras"][0]
    assert camera["may_watch_now"] is False and camera["reason"] == "not_live"
    assert owner.post("/api/cameras/kg-a/streaming/start").status == 200

    # Monday 17:00:01: the window is over; the next one opens Tuesday 08:00
    api.clock.advance(7 * 3600 + 1)
    tuesday_8 = MONDAY_10 + 22 * 3600
    over = parent.get("/api/cameras/kg-a/live")
    assert over.status == 403 and over.error == "outside_viewing_hours"
    assert over.body["reason"] == "your viewing hours are over for now; they start again Tue 08:00"
    assert over.body["next_window_at"] == tuesday_8
    zh = parent.get("/api/cameras/kg-a/live", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.body["reason"] == "您当前的观看时段已结束，下次开始：周二 08:00"
    viewing = parent.get("/api/me").body["viewing"]
    assert viewing["within_hours"] is False and viewing["window_ends_at"] is None
    assert viewing["next_window_at"] == tuesday_8
    camera = viewing["cameras"][0]
    assert camera["may_watch_now"] is False and camera["reason"] == "outside_viewing_hours"
    assert camera["reason_text"].startswith("your viewing hours are over")

    api.clock.set_wall(tuesday_8)
    assert parent.get("/api/cameras/kg-a/live").status == 200


def test_only_invited_viewers_get_viewing_hours(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    assert "viewing" not in owner.get("/api/me").body
    opt_in(owner, "cam1")
    register(owner, "owner")
    grandma = family(api, owner)
    viewing = grandma.get("/api/me").body["viewing"]
    assert viewing["schedule"] is None and viewing["expires_at"] is None
    assert viewing["within_hours"] is True and viewing["window_ends_at"] is None
    camera = viewing["cameras"][0]
    assert camera["id"] == "cam1" and camera["reason"] == "not_live"
    assert camera["reason_text"] == "the camera is not streaming"

    shop_api, shop_owner = merchant_api(start_api)
    public = public_viewer(shop_api, shop_owner)
    assert "viewing" not in public.get("/api/me").body


@pytest.mark.parametrize("path", ["/api/account/sessions", "/api/me"])
def test_api_tokens_reach_no_account_route(start_api: ApiFactory, path: str) -> None:
    api = start_api()
    owner = api.owner()
    token = owner.post("/api/tokens", {"name": "HA", "scopes": ["events:read"]}).body["token"]
    reply = api.client().get(path, token=token)
    assert reply.status == 403 and reply.error == "token_scope"
