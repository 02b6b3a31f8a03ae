"""Owner account set-up: a one-time setup code instead of a default password; argon2 hashes."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import sys
from typing import TextIO

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from firmware.clock import Clock
from firmware.errors import AppError, ExitCode
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import INVITED_ROLES, Role

log = logging.getLogger(__name__)

SETUP_CODE_TTL_S = 7 * 86400
MIN_PASSWORD_LENGTH = 10
# Crockford base32 without I, L, O, U: easy to read off a console and type.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class SetupError(AppError, ValueError):
    """Owner set-up was refused; the message says why (never echoes the code or password)."""

    exit_code = ExitCode.USAGE


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _normalise(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def has_owner(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE role = 'owner'").fetchone() is not None


def issue_setup_code(conn: sqlite3.Connection, clock: Clock) -> str:
    """Make a new one-time setup code (older unused ones stop working); only its hash is kept."""
    code = _new_code()
    now = clock.wall()
    with conn:
        conn.execute("UPDATE setup_codes SET used_at = ? WHERE used_at IS NULL", (now,))
        conn.execute(
            "INSERT INTO setup_codes (code_hash, created_at, expires_at) VALUES (?, ?, ?)",
            (_hasher.hash(_normalise(code)), now, now + SETUP_CODE_TTL_S),
        )
    return code


def announce_setup_code(code: str, out: TextIO | None = None) -> None:
    """Show the code once on the console (the journal under systemd), never in the app's log."""
    out = out or sys.stderr
    out.write(
        "\n"
        "  ┌──────────────────────────────────────────────────────────┐\n"
        "  │  No owner account yet. One-time setup code:              │\n"
        f"  │      {code}                                      │\n"
        "  │  Create the owner with:  camera-app owner setup          │\n"
        "  │  It is shown only this once and expires in 7 days.       │\n"
        "  └──────────────────────────────────────────────────────────┘\n\n"
    )
    out.flush()


def ensure_setup_code(conn: sqlite3.Connection, clock: Clock, out: TextIO | None = None) -> bool:
    """On a device without an owner, issue and show a setup code unless a valid one is pending.

    Returns True when a new code was shown.
    """
    if has_owner(conn):
        return False
    pending = conn.execute(
        "SELECT 1 FROM setup_codes WHERE used_at IS NULL AND expires_at > ?", (clock.wall(),)
    ).fetchone()
    if pending:
        log.warning(
            "no owner account yet: use the setup code shown at first start, or make a new one "
            "with 'camera-app owner new-code'"
        )
        return False
    announce_setup_code(issue_setup_code(conn, clock), out)
    log.warning("no owner account yet: a one-time setup code was shown on the console")
    return True


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SetupError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == username.lower() or len(set(password)) < 4:
        raise SetupError("password is too easy to guess")


def create_owner(
    conn: sqlite3.Connection, clock: Clock, code: str, username: str, password: str
) -> None:
    """Create the owner account if ``code`` is a pending, unexpired setup code; burn the code."""
    if not username.strip() or len(username) > 64:
        raise SetupError("username must be 1-64 characters")
    check_password(password, username)
    now = clock.wall()
    with conn:
        if has_owner(conn):
            raise SetupError("an owner account already exists")
        rows = conn.execute(
            "SELECT id, code_hash FROM setup_codes WHERE used_at IS NULL AND expires_at > ?",
            (now,),
        ).fetchall()
        match = next((r[0] for r in rows if _verify(r[1], _normalise(code))), None)
        if match is None:
            raise SetupError("setup code is wrong, used or expired")
        conn.execute("UPDATE setup_codes SET used_at = ? WHERE id = ?", (now, match))
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at)"
            " VALUES (?, 'owner', ?, ?)",
            (username.strip(), _hasher.hash(password), now),
        )
    # recorded after the account's transaction: the audit log appends in one of its own
    AuditLog(conn, clock).append(
        AuditEvent.SETUP, actor=username.strip(), details={"role": Role.OWNER}
    )
    log.info("owner account created")


def verify_password(conn: sqlite3.Connection, username: str, password: str) -> bool:
    row = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    if row is None:
        # Same argon2 work as for a real account, so timing does not tell which names exist.
        _verify(_DUMMY_HASH, password)
        return False
    return _verify(row[0], password)


def account_role(conn: sqlite3.Connection, username: str) -> Role | None:
    row = conn.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
    return Role(row[0]) if row else None


def username_taken(conn: sqlite3.Connection, username: str) -> bool:
    row = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
    return row is not None


def create_viewer_account(
    conn: sqlite3.Connection, clock: Clock, username: str, role: Role, password: str
) -> None:
    """Create the account of an invited viewer (family or parent) with its chosen password."""
    if role not in INVITED_ROLES:
        raise SetupError("viewer accounts are family or parent accounts")
    check_password(password, username)
    try:
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (username, role, _hasher.hash(password), clock.wall()),
        )
    except sqlite3.IntegrityError:
        raise SetupError("this account already exists") from None


def hash_password(password: str) -> str:
    """The argon2 hash of ``password`` (tens of milliseconds, 64 MiB: off the event loop)."""
    return _hasher.hash(password)


def set_password_hash(conn: sqlite3.Connection, username: str, password_hash: str) -> None:
    """Replace the password of an existing account with ``password_hash``."""
    cur = conn.execute(
        "UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username)
    )
    if cur.rowcount != 1:
        raise SetupError("no such account")


def _verify(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False
