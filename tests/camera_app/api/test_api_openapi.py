"""The OpenAPI description says what the server really answers (regressions the fuzzer found).

Each test makes the real server give one answer that ``tests/camera_app/api/test_fuzz.py``
found undocumented, and checks that ``/api/openapi.json`` lists its status for that operation
with the media type and body it really has: errors are JSON ``Error`` objects on every route,
also those that serve JPEG, PDF or SDP; a 204 has no body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testkit.api import ApiFactory, Reply, RunningApi, make_uscc
from testkit.gates import DAILY_9_TO_21, opt_in, register
from testkit.service import go_live

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def assert_documented(api: RunningApi, method: str, path: str, reply: Reply) -> None:
    """``reply`` to ``method path`` (the path as the description names it) is documented."""
    spec = api.client().get("/api/openapi.json").body
    operation = spec["paths"][path][method.lower()]
    response = operation["responses"].get(str(reply.status))
    assert response is not None, f"{method} {path}: {reply.status} is not documented"
    content = response.get("content")
    if not reply.raw:
        assert content is None, f"{method} {path}: {reply.status} has no body, documented one"
        return
    media = reply.headers["Content-Type"].split(";")[0]
    assert content is not None and media in content, (method, path, reply.status, media, content)
    if reply.status >= 400:
        assert content[media]["schema"] == ERROR_REF
        assert {"error", "reason"} <= set(reply.body)


def test_an_error_on_a_route_that_serves_jpeg_is_documented_as_json(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.get("/api/events/no-such-event/snapshot.jpg")
    assert reply.status == 404 and reply.headers["Content-Type"].startswith("application/json")
    assert_documented(api, "GET", "/api/events/{event_id}/snapshot.jpg", reply)


def test_an_unknown_id_in_the_path_is_a_documented_404(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    for method, template, concrete, body in (
        ("GET", "/api/cameras/{camera_id}/streaming", "/api/cameras/nope/streaming", None),
        ("POST", "/api/viewers/{viewer_id}/revoke", "/api/viewers/nope/revoke", {"reason": "x"}),
        ("POST", "/api/consents/{consent_id}/revoke", "/api/consents/nope/revoke", None),
    ):
        reply = owner.call(method, concrete, body)
        assert reply.status == 404, (concrete, reply.body)
        assert_documented(api, method, template, reply)


def test_logout_is_documented_as_204_without_a_body(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.post("/api/logout")
    assert reply.status == 204 and reply.raw == b""
    assert_documented(api, "POST", "/api/logout", reply)


def test_throttled_public_login_and_invite_acceptance_are_documented(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    api.owner()
    client = api.client()
    limit = api.config.api.login_max_failures
    for path, body in (
        ("/api/public/login", {"link": "x" * 16}),
        ("/api/invites/accept", {"code": "0" * 8, "password": "a long password", "consent": True}),
    ):
        replies = [client.post(path, body) for _ in range(limit + 1)]
        assert replies[-1].status == 429, (path, [r.status for r in replies])
        assert_documented(api, "POST", path, replies[-1])


def test_live_status_of_a_camera_not_streaming_is_documented(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    reply = owner.get("/api/cameras/cam1/live")
    assert reply.status == 409 and reply.error == "not_live"
    assert_documented(api, "GET", "/api/cameras/{camera_id}/live", reply)


def test_query_parameters_are_described_and_a_bad_one_is_a_documented_422(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()
    spec = api.client().get("/api/openapi.json").body
    described = {
        (path, p["name"])
        for path, ops in spec["paths"].items()
        for op in ops.values()
        for p in op.get("parameters", [])
        if p["in"] == "query"
    }
    events = "/api/cameras/{camera_id}/events"
    assert {(events, q) for q in ("since", "until", "limit", "cursor")} <= described
    assert ("/api/audit/events", "actor") in described
    assert ("/api/public-links", "camera_id") in described
    assert ("/api/events/{event_id}/clip.mp4", "download") in described
    for query in ("limit=0", "since=yesterday"):
        reply = owner.get(f"/api/cameras/cam1/events?{query}")
        assert reply.status == 422, (query, reply.body)
        assert_documented(api, "GET", events, reply)


def test_the_whep_offer_is_described_as_sdp_and_its_refusals_documented(
    start_api: ApiFactory,
) -> None:
    api = start_api()
    owner = api.owner()
    spec = api.client().get("/api/openapi.json").body
    whep = "/api/cameras/{camera_id}/whep"
    assert spec["paths"][whep]["post"]["requestBody"]["content"] == {
        "application/sdp": {"schema": {"type": "string"}}
    }
    go_live(owner)
    path = "/api/cameras/cam1/whep"
    as_json = owner.call("POST", path, raw=b"{}", content_type="application/json")
    assert as_json.status == 415
    garbage = owner.call("POST", path, raw=b"not sdp", content_type="application/sdp")
    assert garbage.status == 400
    for reply in (as_json, garbage):
        assert_documented(api, "POST", whep, reply)


def test_handler_refusals_are_documented(start_api: ApiFactory, tmp_path: Path) -> None:
    api = start_api(
        {"streaming": {"profile": "merchant", "public_url": "https://shop-cam.example.com/"}}
    )
    wrong_code = api.client().post(
        "/api/setup", {"code": "000000", "username": "owner", "password": "a long password"}
    )
    assert wrong_code.status == 403
    assert_documented(api, "POST", "/api/setup", wrong_code)
    owner = api.owner()
    registration = register(owner, "business", uscc=make_uscc())
    revoke = f"/api/registrations/{registration}/revoke"
    assert owner.post(revoke, {"reason": "moved"}).status == 200
    again = owner.post(revoke, {"reason": "moved"})
    assert again.status == 409
    assert_documented(api, "POST", "/api/registrations/{registration_id}/revoke", again)

    opt_in(owner, "cam1")
    notice: dict[str, Any] = {
        "operator": "Zhang's Dumplings",
        "purpose": "Livestream of our kitchen",
        "contact": "+86 21 5555 0100",
        "hours": DAILY_9_TO_21,
    }
    first = owner.post("/api/cameras/cam1/notices", notice).body
    owner.post("/api/cameras/cam1/notices", notice)  # replaces the first
    withdrawn = owner.post(f"/api/notices/{first['id']}/attest", {"confirmation": "posted"})
    assert withdrawn.status == 409
    assert_documented(api, "POST", "/api/notices/{notice_id}/attest", withdrawn)
    (api.paths.root / "notices" / f"{first['id']}.pdf").unlink()
    gone = owner.get(first["sign"])
    assert gone.status == 410
    assert_documented(api, "GET", "/api/notices/{notice_id}/sign.pdf", gone)
