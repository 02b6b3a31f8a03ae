"""The device's relay tickets without a relay: what a ticket says, when it expires, what is
revoked, and the signing key's file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from camera_app.live.tickets import (
    ALGORITHM,
    RelayTickets,
    TicketKeyError,
    key_id,
    load_ticket_key,
)
from camera_app.logins import Principal
from firmware.db import open_database
from privacy.audit import AuditLog
from privacy.gates.roles import Role
from privacy.gates.viewers import Access, CameraInfo
from streaming.relayconfig import RelayConfig
from testkit.clock import FakeClock

NOW = 1_800_000_000.0
CAMERA = CameraInfo("kg-a", "Sunflower room", "Sunflower", "kindergarten")
CONFIG = RelayConfig(
    whip_url="https://relay.example/whip/endpoint/{camera}",
    token_file=Path("/t"),
    ticket_max_ttl_s=600,
)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "camera.db")
    yield connection
    connection.close()


def tickets_of(tmp_path: Path, conn: sqlite3.Connection) -> tuple[RelayTickets, FakeClock]:
    clock = FakeClock(NOW)
    key = load_ticket_key(tmp_path / "secrets" / "relay-ticket-key.pem")
    return RelayTickets(key, CONFIG, clock, AuditLog(conn, clock), issuer="kg1"), clock


def parent(login: str = "login-1", login_left: float = 3600) -> Principal:
    return Principal("parent-li", Role.PARENT, "viewer-1", NOW + login_left, session_id=login)


def claims(tickets: RelayTickets, token: str, tmp_path: Path) -> dict:
    key = load_ticket_key(tmp_path / "secrets" / "relay-ticket-key.pem").public_key()
    assert jwt.get_unverified_header(token)["kid"] == key_id(key) == tickets.key_id
    return jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience="https://relay.example",
        options={"verify_exp": False, "verify_iat": False},  # NOW is not the real time
    )


@pytest.mark.parametrize(
    ("window_left", "login_left", "expected"),
    [
        (120.5, 3600, 120),  # the viewing window ends first (never later: rounded down)
        (None, 3600, 600),  # no window (no schedule, no end date): the maximum life
        (7200, 300, 300),  # the login expires first
        (7200, 3600, 600),  # the maximum life
    ],
)
def test_a_ticket_ends_at_the_earliest_of_window_login_and_max_life(
    tmp_path: Path,
    conn: sqlite3.Connection,
    window_left: float | None,
    login_left: float,
    expected: int,
) -> None:
    tickets, _ = tickets_of(tmp_path, conn)
    access = Access(True, watermark=True, seconds_left=window_left)
    ticket = tickets.issue(parent(login_left=login_left), CAMERA, access, mark="viewer v1")
    assert ticket.expires_at == NOW + expected
    body = claims(tickets, ticket.token, tmp_path)
    assert body["exp"] == NOW + expected
    assert body == {
        "iss": "kg1",
        "aud": "https://relay.example",
        "cam": "kg-a",
        "sub": "login-1",  # the login session id, never the user name
        "role": "parent",
        "iat": NOW,
        "exp": body["exp"],
        "jti": ticket.jti,
        "use": "ticket",
        "mark": "viewer v1",
    }
    assert "parent-li" not in ticket.token  # nor anywhere in the token
    assert ticket.whep_url == "https://relay.example/whep/endpoint/kg-a"


def test_revocation_covers_the_ended_logins_only_and_is_audited(
    tmp_path: Path, conn: sqlite3.Connection
) -> None:
    tickets, clock = tickets_of(tmp_path, conn)
    access = Access(True)
    gone = tickets.issue(parent("login-1"), CAMERA, access, mark=None)
    kept = tickets.issue(parent("login-2"), CAMERA, access, mark=None)
    old = tickets.issue(parent("login-1"), CAMERA, Access(True, seconds_left=5), mark=None)
    clock.advance(10)  # the last one expired: nothing left to revoke there
    tickets.push_soon = lambda: None  # type: ignore[method-assign]  # no relay here
    assert tickets.revoke_for_logins({"login-1"}, "logout") == 1
    assert tickets.revoke_for_logins({"login-1"}, "logout") == 0  # once
    listed = jwt.decode(
        tickets.revocations_token(),
        options={"verify_signature": False},
    )
    assert listed["use"] == "revocations" and listed["not_before"] == NOW
    assert listed["revoked"] == [[gone.jti, gone.expires_at]]
    assert kept.jti not in str(listed) and old.jti not in str(listed)
    rows = conn.execute(
        "SELECT event, details FROM audit WHERE event LIKE 'relay_ticket_%' ORDER BY seq"
    ).fetchall()
    assert [r[0] for r in rows] == ["relay_ticket_issued"] * 3 + ["relay_ticket_revoked"]
    assert gone.jti[:8] in rows[-1][1] and "logout" in rows[-1][1]
    assert [h.principal.session_id for h in tickets.holders()] == ["login-2"]


def test_the_key_is_made_once_private_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "relay-ticket-key.pem"
    key = load_ticket_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert key_id(load_ticket_key(path).public_key()) == key_id(key.public_key())
    path.chmod(0o644)
    with pytest.raises(TicketKeyError, match="0600"):
        load_ticket_key(path)
    path.chmod(0o600)
    path.write_text("not a key")
    with pytest.raises(TicketKeyError, match="not a PEM"):
        load_ticket_key(path)
