"""What the site's staff do, and what the site keeps of it: accounts added and disabled, grants
put (checked: rooms some device films, hours, an end date ahead) and withdrawn, each with where
it stands on the devices; the site's own hash-chained audit log and ``camera-site verify-audit``;
the client's address from a trusted proxy's X-Forwarded-For for the login limiter."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from ipaddress import ip_network
from pathlib import Path

import pytest
import yaml

from firmware.errors import ExitCode
from privacy.audit import AuditLog, verify
from privacy.gates.viewers import TERMS_VERSION
from site_app.accounts import SiteAccounts, SiteRole, create_account
from site_app.cli import main
from site_app.config import SiteConfigError, load_site_config
from site_app.db import open_site_database
from site_app.forwarded import client_address
from testkit.api import Client, RunningApi
from testkit.broker import MqttBroker
from testkit.clock import FakeClock
from testkit.gates import audit_events
from testkit.site import (
    EVERY_DAY,
    PARENT_PASSWORD,
    STAFF,
    STAFF_PASSWORD,
    RunningSite,
    accept_terms,
    start_site,
)

DAY = 86400.0
PROXIES = (ip_network("127.0.0.1"), ip_network("10.0.0.0/8"))


# --- the client's address behind a proxy ---------------------------------------------------------


def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote() -> None:
    # a trusted peer: the right-most untrusted entry, past trusted hops
    assert client_address("127.0.0.1", ["203.0.113.7"], PROXIES) == "203.0.113.7"
    assert client_address("127.0.0.1", ["203.0.113.7, 10.1.2.3"], PROXIES) == "203.0.113.7"
    # what a client put left of it is ignored (a spoofed address cannot buy fresh attempts)
    assert client_address("127.0.0.1", ["198.51.100.1, 203.0.113.7"], PROXIES) == "203.0.113.7"
    assert client_address("127.0.0.1", ["198.51.100.1", "203.0.113.7"], PROXIES) == "203.0.113.7"
    # an untrusted peer's header is ignored; so is every header when no proxy is trusted
    assert client_address("192.0.2.9", ["203.0.113.7"], PROXIES) == "192.0.2.9"
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    # nothing usable: the last trusted hop
    assert client_address("127.0.0.1", [], PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.0.0.5"], PROXIES) == "10.0.0.5"
    assert client_address("127.0.0.1", ["203.0.113.7, junk, 10.0.0.5"], PROXIES) == "10.0.0.5"
    assert client_address("127.0.0.1", ["2001:db8::1"], PROXIES) == "2001:db8::1"


def test_trusted_proxies_in_the_config(tmp_path: Path) -> None:
    def config(proxies: object) -> Path:
        path = tmp_path / "site.yaml"
        broker = {"ca_file": "ca.crt", "cert_file": "site.crt", "key_file": "site.key"}
        data = {"data_dir": str(tmp_path), "broker": broker, "http": {"trusted_proxies": proxies}}
        path.write_text(yaml.safe_dump(data))
        return path

    assert load_site_config(config(["127.0.0.1", "10.0.0.0/8", "::1"])).http.trusted_proxies == (
        ip_network("127.0.0.1"),
        ip_network("10.0.0.0/8"),
        ip_network("::1"),
    )
    with pytest.raises(SiteConfigError, match=r"http\.trusted_proxies\.0"):
        load_site_config(config(["proxy.example.org"]))


def _fail_logins(client: Client, username: str, forwarded: str, times: int = 5) -> None:
    for _ in range(times):
        wrong = client.post(
            "/api/login",
            {"username": username, "password": "guess-guess-1"},
            headers={"X-Forwarded-For": forwarded},
        )
        assert (wrong.status, wrong.error) == (401, "bad_login")


def _log_in_from(client: Client, username: str, forwarded: str) -> int:
    reply = client.post(
        "/api/login",
        {"username": username, "password": PARENT_PASSWORD},
        headers={"X-Forwarded-For": forwarded},
    )
    return reply.status


def test_a_trusted_proxy_names_the_address_the_limiter_counts(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    site = start_site(
        mqtt_broker, tmp_path / "site", FakeClock(time.time()), trusted_proxies=["127.0.0.1"]
    )
    try:
        site.add_account("li", PARENT_PASSWORD, "parent")
        client = site.client()
        _fail_logins(client, "li", "203.0.113.7")
        assert _log_in_from(client, "li", "203.0.113.7") == 429  # that address is locked out
        # spoofed entries left of the proxy's own do not make another address
        assert _log_in_from(client, "li", "198.51.100.1, 203.0.113.7") == 429
        # the parent elsewhere, behind the same proxy, is not
        assert _log_in_from(client, "li", "203.0.113.8") == 200
    finally:
        site.stop()


def test_an_untrusted_peers_forwarded_for_is_ignored(site: RunningSite) -> None:
    """No trusted proxy (the default): every address a client claims is the socket's peer."""
    site.add_account("li", PARENT_PASSWORD, "parent")
    client = site.client()
    for n in range(5):
        _fail_logins(client, "li", f"203.0.113.{n}", times=1)
    assert _log_in_from(client, "li", "203.0.113.99") == 429


# --- changes from other sites ------------------------------------------------------------------


def _add_parent(client: Client, username: str, headers: dict[str, str]) -> int:
    body = {"username": username, "password": PARENT_PASSWORD, "role": "parent"}
    return client.post("/api/accounts", body, headers=headers).status


def _login_cookie(client: Client, headers: dict[str, str]) -> str:
    """The Set-Cookie of a staff login sent with ``headers``."""
    body = {"username": STAFF, "password": STAFF_PASSWORD}
    reply = client.post("/api/login", body, headers=headers)
    assert reply.status == 200, reply.body
    (cookie,) = reply.set_cookies
    return cookie


def test_a_change_another_site_makes_a_staff_browser_send_is_refused(site: RunningSite) -> None:
    """The staff member's cookie goes with a request a page elsewhere makes their browser
    send (a sibling host of the same site gets past SameSite=Strict): refused unless the
    browser says the page is the site's own; scripts use the bearer token, no cookie."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    cookie = {"Cookie": f"site_session={staff.token}"}
    browser = site.client()  # no bearer token: the cookie only
    for headers, code in (
        ({"Origin": "https://evil.example"}, "cross_site_request"),
        ({"Sec-Fetch-Site": "cross-site"}, "cross_site_request"),
        ({"Sec-Fetch-Site": "same-site", "Origin": "http://other.127.0.0.1"}, "cross_site_request"),
        ({}, "origin_required"),
    ):
        refused = browser.post(
            "/api/accounts",
            {"username": "x", "password": PARENT_PASSWORD, "role": "parent"},
            headers=cookie | headers,
        )
        assert (refused.status, refused.error) == (403, code), (headers, refused.body)
    assert [a.username for a in site.service.accounts.all()] == [STAFF]  # nothing made
    own = {"Origin": site.url, "Sec-Fetch-Site": "same-origin"}
    assert _add_parent(browser, "li", cookie | own) == 201  # the site's own page
    assert _add_parent(staff, "wang", {}) == 201  # a script: bearer token, no Origin
    assert (
        browser.get("/api/accounts", headers=cookie | {"Origin": "https://evil.example"}).status
        == 200
    )


def test_behind_the_tls_proxy_the_pages_https_origin_is_its_own(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    """The relay host's proxy terminates TLS: the page's origin is https://<relay> while the
    site hears http. Its X-Forwarded-Proto counts only from a trusted proxy."""
    site = start_site(
        mqtt_broker, tmp_path / "site", FakeClock(time.time()), trusted_proxies=["127.0.0.1"]
    )
    try:
        site.add_account(STAFF, STAFF_PASSWORD)
        token = site.login(STAFF, STAFF_PASSWORD).token
        browser = site.client()
        page = {
            "Cookie": f"site_session={token}",
            "Host": "relay.example.org",
            "Origin": "https://relay.example.org",
            "Sec-Fetch-Site": "same-origin",
        }
        assert _add_parent(browser, "li", page | {"X-Forwarded-Proto": "https"}) == 201
        assert _add_parent(browser, "wang", page) == 403  # no proxy said it was https
        # the login cookie is Secure when the browser came over https
        assert "Secure" in _login_cookie(browser, {"X-Forwarded-Proto": "https"})
        assert "Secure" not in _login_cookie(browser, {})
    finally:
        site.stop()
    untrusting = start_site(mqtt_broker, tmp_path / "other", FakeClock(time.time()))
    try:
        untrusting.add_account(STAFF, STAFF_PASSWORD)
        token = untrusting.login(STAFF, STAFF_PASSWORD).token
        page["Cookie"] = f"site_session={token}"
        forged = page | {"X-Forwarded-Proto": "https"}
        assert _add_parent(untrusting.client(), "li", forged) == 403  # not from a trusted proxy
        assert "Secure" not in _login_cookie(untrusting.client(), {"X-Forwarded-Proto": "https"})
    finally:
        untrusting.stop()


# --- the site's own audit log --------------------------------------------------------------------


def test_the_site_log_is_chained_and_an_edit_shows(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    conn = open_site_database(tmp_path / "data")
    audit = AuditLog(conn, clock)
    accounts = SiteAccounts(conn, clock, 3600)
    staff = create_account(accounts, audit, "office", SiteRole.STAFF, "hash", by=None)
    create_account(accounts, audit, "li", SiteRole.PARENT, "hash", by=staff)
    rows = conn.execute("SELECT seq, actor, event, details FROM audit ORDER BY seq").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1, "console", "site_account_created"),
        (2, "office", "site_account_created"),
    ]
    assert json.loads(rows[1][3])["username"] == "li"
    assert verify(conn).ok
    # the log is append-only; someone with the file who drops the trigger still shows
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'someone' WHERE seq = 1")
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'someone' WHERE seq = 1")
    result = verify(conn)
    assert not result.ok
    assert "seq 1: hash does not match its contents (record edited)" in result.problems


def _site_with_one_record(tmp_path: Path) -> tuple[Path, sqlite3.Connection]:
    """A site config and its database, whose log holds one record (an account made at the
    console): (the config's path, the database)."""
    path = tmp_path / "site.yaml"
    broker = {"ca_file": "ca.crt", "cert_file": "site.crt", "key_file": "site.key"}
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), "broker": broker}))
    conn = open_site_database(tmp_path / "data")
    clock = FakeClock(1_800_000_000.0)
    create_account(
        SiteAccounts(conn, clock, 3600),
        AuditLog(conn, clock),
        "office",
        SiteRole.STAFF,
        "h",
        by=None,
    )
    return path, conn


def test_camera_site_verify_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, conn = _site_with_one_record(tmp_path)
    assert main(["verify-audit", "--config", str(path)]) == 0
    assert "site audit log OK: 1 records" in capsys.readouterr().out
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("""UPDATE audit SET details = '{"username":"other"}'""")
    conn.close()
    assert main(["verify-audit", "--config", str(path)]) == ExitCode.TAMPERED != 0
    out = capsys.readouterr().out
    assert "BROKEN" in out and "seq 1: hash does not match" in out


def test_camera_site_export_audit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, conn = _site_with_one_record(tmp_path)
    conn.close()
    assert main(["export-audit", "--config", str(path)]) == 0
    printed = capsys.readouterr()
    (record,) = [json.loads(line) for line in printed.out.splitlines()]
    assert (record["seq"], record["actor"], record["event"]) == (
        1,
        "console",
        "site_account_created",
    )
    assert record["details"]["username"] == "office" and len(record["hash"]) == 64
    assert "1 records exported" in printed.err
    out = tmp_path / "kept" / "site-audit.jsonl"
    out.parent.mkdir()
    assert main(["export-audit", "--config", str(path), "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == printed.out


# --- staff at work -------------------------------------------------------------------------------


def _parent(staff: Client, username: str) -> str:
    made = staff.post(
        "/api/accounts", {"username": username, "password": PARENT_PASSWORD, "role": "parent"}
    )
    assert made.status == 201, made.body
    return str(made.body["id"])


def _staff_and_sunflower_parent(site: RunningSite) -> tuple[Client, str, dict]:
    """A staff login and the parent "li" it made and granted the Sunflower room every day for a
    day: (staff, li's account id, the grant as put)."""
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = _parent(staff, "li")
    grant = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": time.time() + DAY}
    assert staff.put(f"/api/grants/{li}", grant).status == 200
    return staff, li, grant


def _listed(staff: Client, account: str) -> dict:
    return next(a for a in staff.get("/api/accounts").body if a["id"] == account)


def test_bad_grants_are_refused_and_change_nothing(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    staff, li, good = _staff_and_sunflower_parent(site)
    before = _listed(staff, li)
    logged = len(staff.get("/api/audit").body["records"])
    window = {"days": ["mon"], "start": "08:00", "end": "18:00"}
    for body, code, words in (
        (good | {"rooms": ["Sunflower", "Attic"]}, "unknown_room", "no device films Attic"),
        (good | {"rooms": []}, "no_rooms", "at least one room"),
        (good | {"expires_at": time.time() - 60}, "expires_in_past", "in the future"),
        (good | {"schedule": None}, "invalid_schedule", "tick at least one day"),
        (good | {"schedule": {"windows": []}}, "invalid_schedule", "windows"),
        (
            good | {"schedule": {"windows": [window | {"days": ["someday"]}]}},
            "invalid_schedule",
            "",
        ),
        (good | {"schedule": {"windows": [window | {"start": "25:00"}]}}, "invalid_schedule", ""),
    ):
        refused = staff.put(f"/api/grants/{li}", body)
        assert (refused.status, refused.error) == (422, code), refused.body
        assert words in refused.body["reason"]
    assert _listed(staff, li) == before
    assert len(staff.get("/api/audit").body["records"]) == logged  # nothing audited either
    assert staff.put("/api/grants/nobody", good).error == "no_such_parent"


def test_staff_see_where_each_grant_stands_and_the_site_audits_it(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    kg1, kg2 = devices
    site.add_account(STAFF, STAFF_PASSWORD)
    staff = site.login(STAFF, STAFF_PASSWORD)
    li = _parent(staff, "li")
    wang = _parent(staff, "wang")
    until = time.time() + 30 * DAY
    put = staff.put(
        f"/api/grants/{li}", {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": until}
    )
    assert put.status == 200
    # not sent before the parent accepted the viewing terms
    assert put.body["terms_accepted"] is False
    assert put.body["devices"] == [
        {"device": "kg1", "state": "waiting_terms", "reason": None},
        {"device": "kg2", "state": "waiting_terms", "reason": None},
    ]
    parent = site.login("li", PARENT_PASSWORD)
    accept_terms(parent)
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    listed = _listed(staff, li)
    assert listed["terms_accepted"] is True
    assert listed["grant"]["rooms"] == ["Sunflower"] and listed["grant"]["expires_at"] == until
    assert [(d["device"], d["state"]) for d in listed["devices"]] == [
        ("kg1", "held"),
        ("kg2", "held"),
    ]
    held = {d["id"]: [g["username"] for g in d["held"]] for d in staff.get("/api/devices").body}
    assert held == {"kg1": ["li"], "kg2": ["li"]}
    # the device answers a ticket request (no relay here): audited with the device's answer
    assert parent.post("/api/watch/kg1/kg-a").error == "not_on_relay"

    # disabling: the logins end, the grant is withdrawn on both devices
    assert staff.post(f"/api/accounts/{wang}/disable", {}).status == 200
    assert staff.post(f"/api/accounts/{wang}/disable", {}).error == "no_such_account"
    office = next(a["id"] for a in staff.get("/api/accounts").body if a["username"] == STAFF)
    assert staff.post(f"/api/accounts/{office}/disable", {}).error == "cannot_disable_self"
    assert staff.post(f"/api/accounts/{li}/disable", {}).status == 200
    assert parent.get("/api/me").status == 401
    assert site.client().post(
        "/api/login", {"username": "li", "password": PARENT_PASSWORD}
    ).error == ("bad_login")
    assert site.acknowledged("kg1", set()) and site.acknowledged("kg2", set())
    for device in (kg1, kg2):
        revoked = [e for e in audit_events(device) if e["event"] == "viewer_revoked"]
        assert [e["viewer"] for e in revoked] == [f"site:{li}"]
    assert [a["username"] for a in staff.get("/api/accounts").body] == [STAFF]

    log = staff.get("/api/audit?limit=100").body
    assert log["ok"] is True and log["problems"] == []
    events = [(r["actor"], r["event"], r["details"].get("username")) for r in log["records"]][::-1]
    assert events == [
        ("console", "site_account_created", STAFF),
        (STAFF, "login_ok", None),
        (STAFF, "site_account_created", "li"),
        (STAFF, "site_account_created", "wang"),
        (STAFF, "site_grant_put", "li"),
        ("li", "site_terms_accepted", None),
        ("li", "site_ticket_asked", None),
        (STAFF, "site_account_disabled", "wang"),
        (STAFF, "site_account_disabled", "li"),
        (STAFF, "site_grant_withdrawn", "li"),
    ]
    asked = next(r for r in log["records"] if r["event"] == "site_ticket_asked")
    assert asked["camera_id"] == "kg-a"
    assert asked["details"] == {"account": li, "device": "kg1", "answer": "not_on_relay"}
    terms = next(r for r in log["records"] if r["event"] == "site_terms_accepted")
    assert terms["details"]["version"] == TERMS_VERSION
    page = staff.get("/api/audit?limit=3").body
    assert len(page["records"]) == 3 and page["cursor"]
    older = staff.get(f"/api/audit?limit=3&cursor={page['cursor']}").body
    assert [r["seq"] for r in older["records"]] == [7, 6, 5]
    assert staff.get("/api/audit?cursor=bogus").error == "invalid_query"


def test_a_disabled_account_enabled_again_logs_in_and_holds_no_grant(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    staff, li, _ = _staff_and_sunflower_parent(site)
    link = staff.post(f"/api/accounts/{li}/reset", {}).body["code"]
    assert staff.post(f"/api/accounts/{li}/disable", {}).status == 200
    (listed,) = staff.get("/api/accounts/disabled").body
    assert (listed["id"], listed["username"], listed["role"]) == (li, "li", "parent")
    refused = site.client().post("/api/login", {"username": "li", "password": PARENT_PASSWORD})
    assert (refused.status, refused.error) == (401, "bad_login")

    enabled = staff.post(f"/api/accounts/{li}/enable", {})
    assert enabled.status == 200 and enabled.body["username"] == "li"
    assert staff.get("/api/accounts/disabled").body == []
    parent = site.login("li", PARENT_PASSWORD)  # the old password works again
    assert parent.get("/api/me").body["grant"] is None  # the grant did not come back
    assert _listed(staff, li)["grant"] is None
    # given a room again: both devices take it (the site's own withdrawal is undone there)
    grant = {"rooms": ["Sunflower"], "schedule": EVERY_DAY, "expires_at": time.time() + DAY}
    assert staff.put(f"/api/grants/{li}", grant).status == 200
    accept_terms(parent)
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    # the reset link made before the account was disabled stays dead
    stale = site.client().post("/api/reset/preview", {"code": link})
    assert (stale.status, stale.error) == (410, "reset_withdrawn")
    for account in (li, "nobody"):
        again = staff.post(f"/api/accounts/{account}/enable", {})
        assert (again.status, again.error) == (404, "no_such_account")
    assert parent.post(f"/api/accounts/{li}/enable", {}).status == 403
    assert parent.get("/api/accounts/disabled").status == 403
    enables = staff.get("/api/audit?event=site_account_enabled").body["records"]
    assert [(r["actor"], r["details"]) for r in enables] == [
        (STAFF, {"account": li, "username": "li"})
    ]


def test_the_site_log_filtered_by_event_actor_and_account_and_exported_whole(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    staff, li, _ = _staff_and_sunflower_parent(site)
    accept_terms(site.login("li", PARENT_PASSWORD))
    puts = staff.get("/api/audit?event=site_grant_put").body["records"]
    assert [(r["event"], r["actor"], r["details"]["account"]) for r in puts] == [
        ("site_grant_put", STAFF, li)
    ]
    by_li = staff.get("/api/audit?actor=li").body["records"]
    assert [r["event"] for r in by_li] == ["site_terms_accepted"]
    both = staff.get(f"/api/audit?actor={STAFF}&event=site_account_created").body["records"]
    assert [r["details"]["username"] for r in both] == ["li"]
    assert staff.get("/api/audit?actor=nobody").body["records"] == []
    # about li's account, whoever did it: created, granted (by staff), terms accepted (by li)
    about_li = staff.get(f"/api/audit?about={li}").body["records"]
    assert [(r["event"], r["actor"]) for r in about_li] == [
        ("site_terms_accepted", "li"),
        ("site_grant_put", STAFF),
        ("site_account_created", STAFF),
    ]
    granted = staff.get(f"/api/audit?about={li}&event=site_grant_put&actor={STAFF}").body
    assert [r["event"] for r in granted["records"]] == ["site_grant_put"]
    assert staff.get("/api/audit?about=nobody").body["records"] == []
    bad = staff.get("/api/audit?event=bogus")
    assert (bad.status, bad.error) == (422, "invalid_query")

    everything = staff.get("/api/audit?limit=200").body
    export = staff.get("/api/audit/export")
    assert export.status == 200
    assert export.headers["Content-Type"].startswith("application/x-ndjson")
    assert "site-audit.jsonl" in export.headers["Content-Disposition"]
    records = [json.loads(line) for line in export.raw.decode().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, everything["total"] + 1))  # oldest first
    assert [r["hash"] for r in reversed(records)] == [r["hash"] for r in everything["records"]]
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))
    for client in (site.login("li", PARENT_PASSWORD), site.client()):
        assert client.get("/api/audit/export").status in (401, 403)


def test_the_devices_trails_merged_newest_first(
    site: RunningSite, devices: tuple[RunningApi, RunningApi]
) -> None:
    staff, li, _ = _staff_and_sunflower_parent(site)
    accept_terms(site.login("li", PARENT_PASSWORD))
    assert site.acknowledged("kg1", {li}) and site.acknowledged("kg2", {li})
    deadline = time.monotonic() + 10
    merged: dict = {}
    while time.monotonic() < deadline:
        merged = staff.get("/api/audit/devices?limit=500").body
        invited = {
            r["device"]
            for r in merged["records"]
            if r["event"] == "viewer_invited" and r["details"].get("viewer") == f"site:{li}"
        }
        if invited == {"kg1", "kg2"}:
            break
        time.sleep(0.1)
    assert invited == {"kg1", "kg2"}
    assert [(d["device"], d["broken"]) for d in merged["devices"]] == [("kg1", None), ("kg2", None)]
    times = [r["at"] for r in merged["records"]]
    assert times == sorted(times, reverse=True)
    assert {r["device"] for r in merged["records"]} == {"kg1", "kg2"}
    assert "viewer_invited" in merged["events"] and merged["events"] == sorted(merged["events"])
    # filtered: one event, the records about one parent, both, and on one device
    about_li = staff.get(f"/api/audit/devices?account={li}&limit=500").body["records"]
    assert about_li and {r["details"]["viewer"] for r in about_li} == {f"site:{li}"}
    assert len(about_li) < len(merged["records"])  # the devices' other records are left out
    invites = staff.get("/api/audit/devices?event=viewer_invited").body["records"]
    assert {r["event"] for r in invites} == {"viewer_invited"}
    both = staff.get(f"/api/audit/devices?event=viewer_invited&account={li}").body["records"]
    assert sorted(r["device"] for r in both) == ["kg1", "kg2"]
    one = staff.get(f"/api/devices/kg2/audit?event=viewer_invited&account={li}").body
    assert [(r["event"], r["details"]["viewer"]) for r in one["records"]] == [
        ("viewer_invited", f"site:{li}")
    ]
    assert staff.get("/api/audit/devices?account=nobody").body["records"] == []
    assert site.login("li", PARENT_PASSWORD).get("/api/audit/devices").status == 403
    assert site.login("li", PARENT_PASSWORD).get("/api/audit").status == 403
