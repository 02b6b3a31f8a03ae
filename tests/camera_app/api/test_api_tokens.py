"""Scoped API tokens: made by the owner for an integration, shown once, limited to their
scopes (every other route refuses them, with 404 where the route is hidden from other roles),
audited, and dead once revoked. A real server on loopback (``testkit.api``)."""

from __future__ import annotations

from pathlib import Path

from testkit.api import MONDAY_10, ApiFactory, Client
from testkit.media import write_motion_video
from testkit.recordings import CAMERA, add_event, audited


def test_a_token_does_what_its_scopes_allow_and_nothing_else(
    start_api: ApiFactory, tmp_path: Path
) -> None:
    api = start_api()
    owner = api.owner()
    add_event(api, "ev1", MONDAY_10 - 60, clip=write_motion_video(tmp_path / "c.mp4", frames=15))
    made = owner.post("/api/tokens", {"name": "Home Assistant", "scopes": ["events:read"]})
    assert made.status == 201, made.body
    secret = made.body["token"]
    assert secret.startswith("cat_") and made.body["scopes"] == ["events:read"]
    listed = owner.get("/api/tokens").body
    assert [t["name"] for t in listed] == ["Home Assistant"]
    assert "token" not in listed[0]  # shown once
    ha = Client(api.url, secret)

    assert ha.get(f"/api/cameras/{CAMERA}/events").status == 200
    assert ha.get("/api/events/ev1/snapshot.jpg").status == 200
    for method, path in (  # the owner's hidden routes look to it as to anyone: not there
        ("GET", "/api/device/health"),  # device:read, not given
        ("POST", f"/api/cameras/{CAMERA}/disarm"),  # monitoring:arm, not given
        ("DELETE", "/api/events/ev1"),  # no token may
    ):
        hidden = ha.call(method, path)
        assert hidden.status == 404 and hidden.error == "not_found", (method, path)
    for method, path in (
        ("GET", "/api/me"),
        ("GET", f"/api/cameras/{CAMERA}/streaming"),
        ("POST", f"/api/cameras/{CAMERA}/streaming/start"),
        ("GET", "/api/viewers"),
        ("GET", "/api/audit"),
        ("GET", "/api/tokens"),
        ("POST", "/api/tokens"),
    ):
        refused = ha.call(method, path)
        assert refused.status == 403 and refused.error == "token_scope", (method, path)
    assert owner.get("/api/events/ev1").status == 200  # the refused delete did nothing
    assert owner.get("/api/device/health").body["armed"] is True

    # what it read is audited with the token as the actor, like the owner's own reads
    assert audited(api, "recording_viewed") == [
        ("token:Home Assistant", CAMERA, {"event": "ev1", "what": "snapshot"})
    ]
    assert [(a, d["name"]) for a, _, d in audited(api, "token_created")] == [
        ("owner", "Home Assistant")
    ]
    # a token never travels as a cookie, and a made-up one opens nothing
    assert Client(api.url, "cat_" + "x" * 43).get(f"/api/cameras/{CAMERA}/events").status == 401

    revoked = owner.post(f"/api/tokens/{made.body['id']}/revoke")
    assert revoked.status == 200 and revoked.body["revoked_at"] is not None
    assert ha.get(f"/api/cameras/{CAMERA}/events").status == 401
    assert owner.post(f"/api/tokens/{made.body['id']}/revoke").status == 404
    assert [a for a, _, _ in audited(api, "token_revoked")] == ["owner"]


def test_token_requests_are_checked(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["everything"]},
        {"name": "", "scopes": ["device:read"]},
        {"name": "x" * 65, "scopes": ["device:read"]},
        {"name": "x", "scopes": ["device:read"], "extra": 1},
    ):
        assert owner.post("/api/tokens", body).status in (400, 422), body
    assert owner.get("/api/tokens").body == []
    ok = owner.post("/api/tokens", {"name": "ha", "scopes": ["device:read", "monitoring:arm"]})
    assert ok.status == 201
    assert owner.post("/api/tokens", {"name": "ha", "scopes": ["device:read"]}).status == 409
    ha = Client(api.url, ok.body["token"])
    assert ha.get("/api/device/health").status == 200
    assert ha.post(f"/api/cameras/{CAMERA}/disarm").body["armed"] is False
    assert [a for a, _, _ in audited(api, "disarmed")] == ["token:ha"]
