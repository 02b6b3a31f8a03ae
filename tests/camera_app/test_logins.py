"""The pure parts of logging in: the limiter's counting (before the check, taken back on success),
its keys (IPv6 by /64), the console's unlock requests, device cookies, the audit of failed
logins, and the bounded password workers. The real server drives them in
``tests/camera_app/api/test_hardening_auth.py``."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from camera_app.logins import (
    FailedLoginAudit,
    LoginDevices,
    LoginLimiter,
    LoginUnlocks,
    TooManyAttempts,
    throttle_address,
    unlock_logins,
)
from camera_app.passwords import PasswordWorkers, PasswordWorkersBusy
from firmware.db import open_database
from privacy.audit import AuditLog, verify
from testkit.clock import FakeClock


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = open_database(tmp_path / "camera.db")
    yield connection
    connection.close()


def test_an_attempt_counts_from_the_moment_it_is_let_through(clock: FakeClock) -> None:
    limiter = LoginLimiter(3, 900, clock, per_address=10)
    pending = [limiter.login("owner", "10.0.0.2") for _ in range(3)]  # none checked yet
    with pytest.raises(TooManyAttempts) as refused:
        limiter.login("Owner", "10.0.0.2")  # names are counted without case
    assert refused.value.retry_after == 900
    pending[0].succeeded()  # the right password: the pair's count is cleared
    pending[0].succeeded()  # (settling twice changes nothing)
    clock.advance(100)
    again = [limiter.login("owner", "10.0.0.2") for _ in range(3)]
    with pytest.raises(TooManyAttempts):
        limiter.login("owner", "10.0.0.2")
    again[0].refund()  # no attempt after all (the device was busy): room for one
    limiter.login("owner", "10.0.0.2")
    with pytest.raises(TooManyAttempts):
        limiter.login("owner", "10.0.0.2")
    limiter.login("owner", "10.0.0.3").succeeded()  # elsewhere, the account is open


def test_retry_after_names_when_the_oldest_counted_attempt_leaves_the_window(
    clock: FakeClock,
) -> None:
    limiter = LoginLimiter(2, 900, clock, per_address=3)
    limiter.code("10.0.0.2")
    clock.advance(300)
    limiter.code("10.0.0.2")
    with pytest.raises(TooManyAttempts) as refused:
        limiter.code("10.0.0.2")
    assert refused.value.retry_after == 600
    clock.advance(600)
    limiter.code("10.0.0.2")  # the first left the window


def test_an_ipv6_client_is_counted_by_its_64(clock: FakeClock) -> None:
    assert throttle_address("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle_address("::ffff:192.0.2.7") == "192.0.2.7"
    assert throttle_address("192.0.2.7") == "192.0.2.7"
    assert throttle_address("unknown") == "unknown"
    limiter = LoginLimiter(5, 900, clock, per_address=2)
    limiter.login("a", "2001:db8:1:2::1")
    limiter.login("b", "2001:db8:1:2::2")
    with pytest.raises(TooManyAttempts):
        limiter.login("c", "2001:db8:1:2:ffff::3")
    limiter.login("c", "2001:db8:1:3::1")  # another /64


def test_unlock_requests_from_the_console_lift_locks_of_a_running_limiter(
    conn: sqlite3.Connection, clock: FakeClock
) -> None:
    unlock_logins(conn, clock, "owner")  # before the limiter started: nothing to do later
    limiter = LoginLimiter(1, 900, clock, per_address=10, unlocks=LoginUnlocks(conn))
    limiter.login("owner", "10.0.0.2")
    limiter.login("kid", "10.0.0.2")
    limiter.password_change("owner", "10.0.0.3")
    unlock_logins(conn, clock, "Owner")
    limiter.login("owner", "10.0.0.2")  # lifted
    limiter.password_change("owner", "10.0.0.3")
    with pytest.raises(TooManyAttempts):
        limiter.login("kid", "10.0.0.2")  # another account's lock stays
    unlock_logins(conn, clock, None)
    limiter.login("kid", "10.0.0.2")
    records = conn.execute("SELECT actor, event, details FROM audit ORDER BY seq").fetchall()
    assert [(r[0], r[1], json.loads(r[2])) for r in records] == [
        ("device console", "logins_unlocked", {"username": "owner"}),
        ("device console", "logins_unlocked", {"username": "Owner"}),
        ("device console", "logins_unlocked", {"username": None}),
    ]


def test_a_device_cookie_is_bound_to_its_account_and_key() -> None:
    devices = LoginDevices(b"k" * 32)
    cookie = devices.issue("Owner")
    device = devices.device_of("owner", cookie)
    assert device is not None and cookie.startswith(device + ".")
    assert devices.device_of("kid", cookie) is None
    assert LoginDevices(b"x" * 32).device_of("owner", cookie) is None
    for bad in ("", ".", "abc", f"{device}.", f"other.{cookie.partition('.')[2]}", cookie * 3):
        assert devices.device_of("owner", bad) is None, bad


def test_failed_logins_are_audited_within_limits_and_summed_up(
    conn: sqlite3.Connection, clock: FakeClock
) -> None:
    conn.execute(
        "INSERT INTO users (username, role, password_hash, created_at)"
        " VALUES ('owner', 'owner', 'x', 0)"
    )
    failures = FailedLoginAudit(conn, AuditLog(conn, clock), clock)
    assert failures.actor("owner") == "owner"
    for typed in ("OWNER", "owner ", "110101199003071233", "ünïcode", "x" * 65):
        assert failures.actor(typed) == "unknown user"
    for n in range(30):  # 30 addresses: ten records, the rest counted
        failures.failed("owner", f"10.0.0.{n}")
    failures.failed("owner", "10.0.0.29")
    assert _events(conn) == ["login_failed"] * 10
    failures.flush()  # as when the service stops
    (summary,) = _details(conn, "login_failures_suppressed")
    assert summary["suppressed"] == 21 and summary["other_clients"] == 0
    assert summary["clients"][0] == ["10.0.0.29", 2] and len(summary["clients"]) == 20
    failures.flush()  # nothing more to say
    assert len(_details(conn, "login_failures_suppressed")) == 1
    assert verify(conn).ok


def _events(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT event FROM audit ORDER BY seq")]


def _details(conn: sqlite3.Connection, event: str) -> list[dict]:
    rows = conn.execute("SELECT details FROM audit WHERE event = ? ORDER BY seq", (event,))
    return [json.loads(row[0]) for row in rows]


def test_password_workers_refuse_at_once_beyond_their_queue() -> None:
    workers = PasswordWorkers(1, 2)
    gate = threading.Event()
    try:
        held = [workers.submit(gate.wait, 10) for _ in range(3)]
        with pytest.raises(PasswordWorkersBusy):
            workers.submit(gate.wait, 10)
        gate.set()
        assert [f.result(timeout=10) for f in held] == [True] * 3
        assert workers.submit(lambda: 7).result(timeout=10) == 7  # room again
    finally:
        gate.set()
        workers.close()
    with pytest.raises(ValueError, match="at least 1 thread"):
        PasswordWorkers(0, 1)
