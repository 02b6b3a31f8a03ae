"""Hostile clients against set-up and logins (issue 15, findings 1, 2, 4 and 8), on the real
server: concurrent requests released together by a barrier, and a second client address
(127.0.0.2, ...) on loopback.

- One setup code makes one owner, however many requests race for it.
- A login attempt is counted before its password is checked, so a burst of concurrent guesses
  gets no more checks than the limit; argon2 runs on its own small, bounded pool of threads.
- Failures are counted per (account, address) and per address: a guesser elsewhere cannot lock
  the owner out; a device that logged in before keeps working from a shared address; on the
  device, ``camera-app unlock-logins`` lifts a lock at once.
- The audit log records only existing, well-formed names as the actor of a failed login, and a
  flood of failures writes a bounded number of records plus a summary.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from camera_app.accounts import create_owner, issue_setup_code
from camera_app.cli import main
from camera_app.passwords import PasswordWorkersBusy
from firmware.db import open_database
from privacy.audit import verify
from testkit.api import OWNER, OWNER_PASSWORD, ApiFactory, Reply, RunningApi, make_id
from testkit.clock import FakeClock
from testkit.concurrency import all_at_once

WAIT_S = 20.0


def concurrently(n: int, call: Callable[[int], Reply]) -> list[Reply]:
    """``call(0..n-1)`` on n threads, released together by a barrier; every wait has a timeout."""
    return all_at_once([functools.partial(call, i) for i in range(n)], timeout=WAIT_S)


def audit_rows(api: RunningApi, event: str) -> list[tuple[str, dict]]:
    conn = api.db()
    try:
        rows = conn.execute(
            "SELECT actor, details FROM audit WHERE event = ? ORDER BY seq", (event,)
        ).fetchall()
    finally:
        conn.close()
    return [(row[0], json.loads(row[1])) for row in rows]


def login(api: RunningApi, username: str, password: str, source: str | None = None) -> Reply:
    return api.client(source).post("/api/login", {"username": username, "password": password})


# --- finding 1: one setup code, one owner ---------------------------------------------------------


def test_one_setup_code_makes_one_owner_when_four_requests_race(start_api: ApiFactory) -> None:
    api = start_api()
    code = api.setup_code()
    replies = concurrently(
        4,
        lambda i: api.client().post(
            "/api/setup", {"code": code, "username": f"owner{i}", "password": OWNER_PASSWORD}
        ),
    )
    assert sorted(r.status for r in replies) == [201, 409, 409, 409], [r.body for r in replies]
    assert {r.error for r in replies if r.status == 409} == {"owner_exists"}
    conn = api.db()
    try:
        owners = conn.execute("SELECT username FROM users WHERE role = 'owner'").fetchall()
        used = conn.execute("SELECT COUNT(*) FROM setup_codes WHERE used_at IS NOT NULL")
        assert used.fetchone()[0] == 1
    finally:
        conn.close()
    winner = next(r.body["username"] for r in replies if r.status == 201)
    assert [row[0] for row in owners] == [winner]
    assert [actor for actor, _ in audit_rows(api, "setup")] == [winner]
    assert login(api, winner, OWNER_PASSWORD).status == 200


def test_the_database_itself_refuses_a_second_owner(tmp_path: Path) -> None:
    conn = open_database(tmp_path / "camera.db")
    clock = FakeClock()
    create_owner(conn, clock, issue_setup_code(conn, clock), "alice", OWNER_PASSWORD)
    with pytest.raises(sqlite3.IntegrityError, match="an owner account already exists"):
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at)"
            " VALUES ('mallory', 'owner', 'x', 0)"
        )
    conn.execute(
        "INSERT INTO users (username, role, password_hash, created_at)"
        " VALUES ('kid', 'family', 'x', 0)"
    )
    with pytest.raises(sqlite3.IntegrityError, match="an owner account already exists"):
        conn.execute("UPDATE users SET role = 'owner' WHERE username = 'kid'")
    roles = conn.execute("SELECT username, role FROM users ORDER BY id").fetchall()
    assert [tuple(r) for r in roles] == [("alice", "owner"), ("kid", "family")]
    conn.close()


# --- finding 2: attempts are counted before the password is checked ------------------------------


def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(
    start_api: ApiFactory,
) -> None:
    # 60 connections at once from one address: above the per-address connection cap (32), which
    # would close the rest before HTTP; this test is about the login limiter
    api = start_api({"api": {"login_max_failures": 5, "max_connections_per_address": 64}})
    api.owner()
    replies = concurrently(60, lambda i: login(api, OWNER, f"wrong guess {i}"))
    assert Counter(r.status for r in replies) == {401: 5, 429: 55}


def test_password_checks_run_on_their_own_bounded_threads(start_api: ApiFactory) -> None:
    api = start_api({"api": {"password_workers": 1, "password_queue": 1}})
    api.owner()
    assert api.server.context is not None
    passwords = api.server.context.passwords
    gate = threading.Event()
    held = [passwords.submit(gate.wait, WAIT_S) for _ in range(2)]  # the worker and the queue
    try:
        busy = login(api, OWNER, OWNER_PASSWORD)
        assert busy.status == 503 and busy.error == "busy", busy.body
        assert int(busy.headers["Retry-After"]) >= 1
        with pytest.raises(PasswordWorkersBusy):
            passwords.submit(gate.wait, WAIT_S)
    finally:
        gate.set()
    assert [f.result(timeout=WAIT_S) for f in held] == [True, True]
    assert any(t.name.startswith("argon2") for t in threading.enumerate())
    # the busy answer was no attempt: five wrong passwords are still checked, then the lock
    assert [login(api, OWNER, f"guess {i}").status for i in range(6)] == [401] * 5 + [429]


# --- finding 4: nobody elsewhere can lock the owner out ------------------------------------------


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(start_api: ApiFactory) -> None:
    api = start_api({"api": {"login_max_failures": 3}})
    api.owner()
    guesses = [login(api, OWNER, f"guess {i}", "127.0.0.2").status for i in range(3)]
    assert guesses == [401] * 3
    locked = login(api, OWNER, OWNER_PASSWORD, "127.0.0.2")
    assert locked.status == 429 and locked.error == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(api, OWNER, OWNER_PASSWORD).status == 200  # from 127.0.0.1
    # and again from another address, as often as the guesser likes
    assert [login(api, OWNER, f"more {i}", "127.0.0.3").status for i in range(4)][-1] == 429
    assert login(api, OWNER, OWNER_PASSWORD).status == 200


def test_one_address_guessing_many_names_is_stopped(start_api: ApiFactory) -> None:
    api = start_api({"api": {"login_max_failures": 3, "login_max_failures_per_address": 4}})
    api.owner()
    spray = [login(api, f"name{i}", "password1234", "127.0.0.2").status for i in range(5)]
    assert spray == [401] * 4 + [429]
    assert login(api, OWNER, OWNER_PASSWORD, "127.0.0.2").status == 429
    assert login(api, OWNER, OWNER_PASSWORD).status == 200


def test_many_addresses_slow_an_account_down_but_never_lock_it(start_api: ApiFactory) -> None:
    api = start_api({"api": {"login_max_failures": 3, "login_account_slowdown": 4}})
    api.owner()
    assert [login(api, OWNER, f"a{i}", "127.0.0.2").status for i in range(3)] == [401] * 3
    assert login(api, OWNER, "b0", "127.0.0.3").status == 401  # four failures for the account
    # now each address gets one attempt per window at this account, not three
    assert login(api, OWNER, "b1", "127.0.0.3").status == 429
    assert login(api, OWNER, "c0", "127.0.0.4").status == 401
    assert login(api, OWNER, OWNER_PASSWORD, "127.0.0.4").status == 429
    # an address that has not failed still gets its attempt: the owner is never locked out
    assert login(api, OWNER, OWNER_PASSWORD).status == 200


def test_a_device_that_logged_in_before_is_not_locked_out_from_a_shared_address(
    start_api: ApiFactory,
) -> None:
    """Through the relay's tunnel every client is 127.0.0.1: the owner's phone, which logged in
    before, keeps its own count (the device cookie), while new devices share the address's."""
    api = start_api({"api": {"login_max_failures": 3}})
    api.owner()
    first = login(api, OWNER, OWNER_PASSWORD)
    device = first.cookies["login_device"]
    assert device and device != first.body["token"]
    (line,) = [c for c in first.set_cookies if c.startswith("login_device=")]
    assert "HttpOnly" in line and "Path=/api/login" in line and "SameSite=Strict" in line
    assert [login(api, OWNER, f"guess {i}").status for i in range(3)] == [401] * 3
    assert login(api, OWNER, OWNER_PASSWORD).status == 429  # a new device at this address waits
    phone = api.client()
    with_cookie = {"Cookie": f"login_device={device}"}
    body = {"username": OWNER, "password": OWNER_PASSWORD}
    assert phone.post("/api/login", body, headers=with_cookie).status == 200
    # a forged or altered cookie counts as none, and so does one for another account
    altered = device[:-1] + ("A" if device[-1] != "A" else "B")
    assert (
        phone.post("/api/login", body, headers={"Cookie": f"login_device={altered}"}).status == 429
    )
    kid = {"username": "kid", "password": "whatever12"}
    assert phone.post("/api/login", kid, headers=with_cookie).status == 401
    # the device's own guesses are limited like an address's
    wrong = {"username": OWNER, "password": "not it at all"}
    statuses = [phone.post("/api/login", wrong, headers=with_cookie).status for _ in range(4)]
    assert statuses == [401] * 3 + [429]


def test_unlock_logins_on_the_device_lifts_a_lock_at_once(
    start_api: ApiFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    api = start_api(
        {"api": {"login_max_failures": 2, "login_max_failures_per_address": 3}}, config_file=True
    )
    api.owner()
    assert [login(api, OWNER, f"typo {i}").status for i in range(2)] == [401] * 2
    assert login(api, OWNER, OWNER_PASSWORD).status == 429
    config = str(api.config_file)
    assert main(["unlock-logins", OWNER, "--config", config]) == 0
    assert "owner" in capsys.readouterr().out
    assert login(api, OWNER, OWNER_PASSWORD).status == 200  # the running service took it

    # without a name: every lock, the addresses' too
    spray = [login(api, f"n{i}", "password1234", "127.0.0.2").status for i in range(4)]
    assert spray == [401, 401, 401, 429]
    assert main(["unlock-logins", "--config", config]) == 0
    assert login(api, "someone", "password1234", "127.0.0.2").status == 401
    unlocks = audit_rows(api, "logins_unlocked")
    assert unlocks == [
        ("device console", {"username": OWNER}),
        ("device console", {"username": None}),
    ]
    # an unknown name is refused and changes nothing
    assert main(["unlock-logins", "nobody", "--config", config]) == 2
    assert "no account named 'nobody'" in capsys.readouterr().err
    assert len(audit_rows(api, "logins_unlocked")) == 2


# --- finding 8: the audit log keeps no unauthenticated text, and cannot be flooded ---------------


def test_text_typed_as_a_user_name_never_reaches_the_audit_log(start_api: ApiFactory) -> None:
    api = start_api()
    api.owner()
    typed = [make_id(), "correct horse battery staple", "owner ", "<script>"]
    for i, text in enumerate(typed):  # each from an address of its own: all are recorded
        assert login(api, text, "a wrong password", f"127.0.0.{10 + i}").status == 401
    assert login(api, OWNER, "a wrong password", "127.0.0.20").status == 401
    actors = [actor for actor, _ in audit_rows(api, "login_failed")]
    assert actors == ["unknown user"] * len(typed) + [OWNER]
    conn = api.db()
    try:
        dump = json.dumps([tuple(r) for r in conn.execute("SELECT * FROM audit").fetchall()])
        assert verify(conn).ok
    finally:
        conn.close()
    for text in (typed[0], typed[1], typed[3]):
        assert json.dumps(text)[1:-1] not in dump


def test_a_flood_of_failed_logins_writes_few_audit_records_and_a_summary(
    start_api: ApiFactory,
) -> None:
    """Three records per address an hour, ten in all; the rest is counted in one summary."""
    api = start_api()
    api.owner()
    for n in range(2, 6):  # four addresses, three failures each
        for i in range(3):
            assert login(api, f"user{n}x{i}", "wrong password", f"127.0.0.{n}").status == 401
    assert len(audit_rows(api, "login_failed")) == 10
    assert audit_rows(api, "login_failures_suppressed") == []
    api.clock.advance(3600)
    assert login(api, OWNER, "wrong again", "127.0.0.9").status == 401
    (summary,) = audit_rows(api, "login_failures_suppressed")
    actor, details = summary
    assert actor == "unauthenticated clients"
    assert details["suppressed"] == 2 and details["window_s"] == 3600
    assert details["clients"] == [["127.0.0.5", 2]] and details["other_clients"] == 0
    assert audit_rows(api, "login_failed")[-1] == (OWNER, {"client": "127.0.0.9"})
    conn = api.db()
    try:
        assert verify(conn).ok
    finally:
        conn.close()
