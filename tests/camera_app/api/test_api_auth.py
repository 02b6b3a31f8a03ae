"""Owner API authentication and transport: every non-public route refuses a caller without a
session, login brute force is throttled, the OpenAPI description is valid and complete, and the
real ``camera-app run`` serves HTTPS with its first-run device certificate.
"""

from __future__ import annotations

import json
import re
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from camera_app.api.app import route_table
from camera_app.api.routes import PUBLIC
from camera_app.config import ConfigError, parse_config
from camera_app.config.changes import record_config_changes
from firmware.db import open_database
from privacy.audit import AuditEvent
from testkit.api import MONDAY_10, OWNER, OWNER_PASSWORD, ApiFactory, Client
from testkit.clock import FakeClock
from testkit.net import free_port, wait_until
from testkit.paths import REPO
from testkit.service import camera_app_cmd


def _concrete(path: str) -> str:
    return re.sub(r"{\w+}", "cam1", path)


def test_every_non_public_route_refuses_without_a_session(start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()  # an owner exists, so nothing is refused for lack of one
    client = api.client()
    checked = 0
    for route in route_table().routes:
        if route.roles == PUBLIC:
            continue
        for token in (None, "not-a-session", "x" * 300):
            reply = client.call(route.method, _concrete(route.path), {}, token=token or "")
            assert reply.status == 401, (route.method, route.path, reply.body)
            assert reply.error == "unauthenticated"
            assert reply.headers.get("WWW-Authenticate", "").startswith("Bearer")
        checked += 1
    assert checked >= 20


def test_session_cookie_works_and_logout_ends_the_session(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    login = api.client().post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    by_cookie = api.client().get("/api/me", headers={"Cookie": f"session={token}"})
    assert by_cookie.status == 200 and by_cookie.body["role"] == "owner"
    assert owner.post("/api/logout").status == 204
    assert owner.get("/api/me").status == 401


def test_login_brute_force_is_throttled_before_the_password_is_checked(
    start_api: ApiFactory,
) -> None:
    api = start_api({"api": {"login_max_failures": 5, "login_window_s": 900}})
    api.owner()
    guesser = api.client()
    for i in range(5):
        reply = guesser.post("/api/login", {"username": OWNER, "password": f"guess-{i}"})
        assert reply.status == 401 and reply.error == "login_failed"
    locked = guesser.post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD})
    assert locked.status == 429 and locked.error == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    # the lock is per (account, address): another name is still checked from here, up to
    # api.login_max_failures_per_address (tests/camera_app/api/test_hardening_auth.py)
    other = guesser.post("/api/login", {"username": "admin", "password": "admin"})
    assert other.status == 401

    conn = api.db()
    try:
        failed = conn.execute("SELECT COUNT(*) FROM audit WHERE event = 'login_failed'").fetchone()
    finally:
        conn.close()
    assert failed[0] == 3  # refused attempts are not logged; checked ones three an hour per address

    api.clock.advance(901)
    assert guesser.post("/api/login", {"username": OWNER, "password": OWNER_PASSWORD}).status == 200


def test_unknown_username_and_wrong_password_look_the_same(start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()
    client = api.client()
    unknown = client.post("/api/login", {"username": "nobody", "password": "whatever123"})
    wrong = client.post("/api/login", {"username": OWNER, "password": "whatever123"})
    assert unknown.status == wrong.status == 401
    assert unknown.body == wrong.body


def test_setup_code_is_one_time_and_guessing_it_is_throttled(start_api: ApiFactory) -> None:
    api = start_api()
    code = api.setup_code()
    client = api.client()
    weak = client.post("/api/setup", {"code": code, "username": OWNER, "password": "short"})
    assert weak.status == 422 and weak.error == "weak_password"
    for _ in range(5):
        wrong = client.post(
            "/api/setup", {"code": "AAAA-BBBB-CCCC", "username": OWNER, "password": OWNER_PASSWORD}
        )
        assert wrong.status == 403 and wrong.error == "setup_refused"
    throttled = client.post(
        "/api/setup", {"code": code, "username": OWNER, "password": OWNER_PASSWORD}
    )
    assert throttled.status == 429
    api.clock.advance(901)
    ok = client.post("/api/setup", {"code": code, "username": OWNER, "password": OWNER_PASSWORD})
    assert ok.status == 201
    again = client.post("/api/setup", {"code": code, "username": "x", "password": OWNER_PASSWORD})
    assert again.status == 409


def test_errors_are_json_with_a_reason_and_headers_are_safe(start_api: ApiFactory) -> None:
    api = start_api()
    owner = api.owner()
    missing = owner.get("/api/nothing-here")
    assert missing.status == 404 and missing.error == "not_found" and missing.body["reason"]
    wrong_method = owner.call("DELETE", "/api/cameras")
    assert wrong_method.status == 405 and wrong_method.error == "method_not_allowed"
    reply = owner.get("/api/cameras")
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]


def test_openapi_description_is_valid_and_lists_every_route(start_api: ApiFactory) -> None:
    api = start_api()
    spec = api.client().get("/api/openapi.json").body
    validate(spec)  # raises on an invalid OpenAPI 3.1 document
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = {(r.method, r.path) for r in route_table().routes}
    assert documented == served
    login = spec["paths"]["/api/login"]["post"]
    assert login["security"] == []
    assert "LoginBody" in spec["components"]["schemas"]
    registration = spec["paths"]["/api/registrations"]["post"]
    assert registration["security"] and "422" in registration["responses"]


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(ConfigError, match="tls may be false only when host is a loopback"):
        parse_config({"api": {"host": "0.0.0.0", "tls": False}})
    assert parse_config({"api": {"host": "::1", "tls": False}}).api.tls is False


def test_config_changes_are_audited_by_section(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "camera.db")
    clock = FakeClock(MONDAY_10)
    first = parse_config({"camera": {"id": "cam1"}})
    assert "camera" in record_config_changes(conn, first, clock)
    assert record_config_changes(conn, first, clock) == []
    second = parse_config({"camera": {"id": "cam1"}, "streaming": {"notice_reconfirm_days": 7}})
    assert record_config_changes(conn, second, clock) == ["streaming"]
    rows = conn.execute(
        "SELECT details FROM audit WHERE event = ?", (AuditEvent.CONFIG_CHANGED.value,)
    ).fetchall()
    assert len(rows) == 2 and json.loads(rows[1][0])["changed"] == ["streaming"]
    conn.close()


def test_service_serves_https_with_its_device_certificate(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    port = free_port()
    data = tmp_path / "data"
    config = write_config(
        {
            "storage": {"data_dir": str(data)},
            "api": {"host": "127.0.0.1", "port": port, "tls": True},
        }
    )
    proc = subprocess.Popen(
        [*camera_app_cmd(), "run", "--config", str(config), "--source", "test:"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        cert = data / "secrets" / "device-cert.pem"
        assert wait_until(lambda: cert.exists()), "no device certificate was made"
        context = ssl.create_default_context(cafile=str(cert))
        client = Client(f"https://localhost:{port}", ssl_context=context)

        def answers() -> bool:
            try:
                return client.get("/api/health").status == 200
            except (urllib.error.URLError, ConnectionError, ssl.SSLError):
                return False

        assert wait_until(answers), "HTTPS did not answer"
        assert client.get("/api/cameras").status == 401
        # plain HTTP on the TLS port gets no API answer
        with pytest.raises((urllib.error.URLError, ConnectionError, http_client_errors())):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "owner API listening on https://" in err
    conn = open_database(data / "camera.db")
    try:
        events = [r[0] for r in conn.execute("SELECT event FROM audit ORDER BY seq")]
    finally:
        conn.close()
    assert events[0] == "config_changed"


def http_client_errors() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def test_api_reference_is_up_to_date() -> None:
    from camera_app.api.reference import render

    current = (REPO / "docs" / "api.md").read_text()
    assert current == render(), "regenerate with: python -m camera_app.api.reference > docs/api.md"
