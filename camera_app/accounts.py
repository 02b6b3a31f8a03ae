"""Owner account set-up: a one-time setup code instead of a default password; argon2 hashes."""

from __future__ import annotations

import ipaddress
import logging
import os
import pwd
import secrets
import shlex
import socket
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

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


@dataclass(frozen=True, slots=True)
class SetupHint:
    """Where the owner takes the setup code: commands that work as printed, and the web address
    of the browser set-up (None when the API is off or its port is not known)."""

    program: tuple[str, ...]  # e.g. runuser -u camera-app -- /opt/camera-app/bin/camera-app-launch
    config_file: Path | None
    web_url: str | None

    @classmethod
    def of(
        cls,
        executable: Sequence[str],
        config_file: Path | None,
        listen_url: str | None,
        run_as: str | None = None,
    ) -> SetupHint:
        """``executable``: the program and its leading arguments; ``config_file``: the config
        the service was started with; ``listen_url``: the owner API's listener; ``run_as``: the
        service's user, which the command must run as (the database's files must stay its own).
        """
        program = tuple(executable)
        if run_as is not None:
            program = ("runuser", "-u", run_as, "--", *program)
        config = Path(config_file).absolute() if config_file is not None else None
        return cls(program, config, browser_address(listen_url) + "/" if listen_url else None)

    def command(self, *action: str) -> str:
        """The shell command for ``camera-app <action>`` with this device's config."""
        words = [*self.program, *action]
        if self.config_file is not None:
            words += ["--config", str(self.config_file)]
        return shlex.join(words)

    @classmethod
    def of_this_process(cls, config_file: Path | None, listen_url: str | None) -> SetupHint:
        """The hint for the running ``camera-app``: the launcher the systemd unit runs it
        through (``CAMERA_APP_LAUNCHER``, set by ``camera-app-launch``), else its own absolute
        path; as the service user when systemd started it."""
        under_systemd = "INVOCATION_ID" in os.environ
        run_as = pwd.getpwuid(os.geteuid()).pw_name if under_systemd else None
        return cls.of(_this_executable(), config_file, listen_url, run_as)


def _this_executable() -> list[str]:
    launcher = os.environ.get("CAMERA_APP_LAUNCHER")
    if launcher:
        return [launcher]
    script = Path(sys.argv[0]).absolute() if sys.argv and sys.argv[0] else None
    if script is not None and script.suffix != ".py" and os.access(script, os.X_OK):
        return [str(script)]  # the console script (a symlink to it is kept as it was called)
    return [sys.executable, "-m", "camera_app.cli"]  # started as python -m, or embedded


def browser_address(listen_url: str) -> str:
    """The address a browser opens for a listener at ``listen_url`` (``scheme://host:port``): a
    wildcard listen address (0.0.0.0, ::) is named by the device's host name instead."""
    parts = urlsplit(listen_url)
    host = parts.hostname or ""
    try:
        wildcard = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        wildcard = False
    if wildcard:
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def announce_setup_code(code: str, hint: SetupHint, out: TextIO | None = None) -> None:
    """Show the code once on the console (the journal under systemd), never in the app's log,
    with the exact command and the web address that take it."""
    out = out or sys.stderr
    lines = [
        "No owner account yet. One-time setup code:",
        f"    {code}",
        "It is shown only this once and expires in 7 days.",
    ]
    if hint.web_url:
        lines += ["Create the owner account in a browser at:", f"    {hint.web_url}"]
        lines.append("or on this device with:")
    else:
        lines.append("Create the owner account on this device with:")
    lines.append(f"    {hint.command('owner', 'setup')}")
    rule = "─" * 62
    out.write("\n  ┌" + rule + "\n" + "".join(f"  │  {line}\n" for line in lines))
    out.write("  └" + rule + "\n\n")
    out.flush()


def ensure_setup_code(
    conn: sqlite3.Connection, clock: Clock, out: TextIO | None = None, *, hint: SetupHint
) -> bool:
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
            "with: %s",
            hint.command("owner", "new-code"),
        )
        return False
    announce_setup_code(issue_setup_code(conn, clock), hint, out)
    log.warning("no owner account yet: a one-time setup code was shown on the console")
    return True


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SetupError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == username.lower() or len(set(password)) < 4:
        raise SetupError("password is too easy to guess")


class OwnerExists(SetupError):
    """There is an owner already; a device has exactly one."""


def _check_username(username: str) -> None:
    if not username.strip() or len(username) > 64:
        raise SetupError("username must be 1-64 characters")


def pending_setup_codes(conn: sqlite3.Connection, now: float) -> list[tuple[int, str]]:
    """The unused, unexpired setup codes: ``(id, argon2 hash)``."""
    rows = conn.execute(
        "SELECT id, code_hash FROM setup_codes WHERE used_at IS NULL AND expires_at > ?", (now,)
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True, slots=True)
class MatchedCode:
    """A setup code that matched, and the hash of the new owner's password."""

    code_id: int
    password_hash: str


def match_setup_code(
    pending: list[tuple[int, str]], code: str, password: str
) -> MatchedCode | None:
    """Argon2 work only (no database: run it off the event loop): which pending code ``code``
    is, with the hash of ``password``; None when it is none of them (then nothing is hashed)."""
    match = next((i for i, hashed in pending if _verify(hashed, _normalise(code))), None)
    return None if match is None else MatchedCode(match, _hasher.hash(password))


def store_owner(
    conn: sqlite3.Connection, clock: Clock, matched: MatchedCode, username: str
) -> None:
    """Create the owner from :func:`match_setup_code`'s result and burn its code, in one
    ``BEGIN IMMEDIATE`` transaction that checks again that there is no owner and that the code
    is still unused: of any number of racing set-ups (threads or processes) exactly one wins.
    Raises :class:`OwnerExists`, or :class:`SetupError` when the code was used meanwhile.

    A trigger (migration 0007) refuses a second owner row as well, whatever writes it.
    """
    now = clock.wall()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if has_owner(conn):
            raise OwnerExists("an owner account already exists")
        burnt = conn.execute(
            "UPDATE setup_codes SET used_at = ? WHERE id = ? AND used_at IS NULL"
            " AND expires_at > ?",
            (now, matched.code_id, now),
        )
        if burnt.rowcount != 1:
            raise SetupError("setup code is wrong, used or expired")
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at)"
            " VALUES (?, 'owner', ?, ?)",
            (username.strip(), matched.password_hash, now),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    # recorded after the account's transaction: the audit log appends in one of its own
    AuditLog(conn, clock).append(
        AuditEvent.SETUP, actor=username.strip(), details={"role": Role.OWNER}
    )
    log.info("owner account created")


def check_owner_request(username: str, password: str) -> None:
    """Refuse a malformed name or a weak password before any code is checked."""
    _check_username(username)
    check_password(password, username)


def create_owner(
    conn: sqlite3.Connection, clock: Clock, code: str, username: str, password: str
) -> None:
    """Create the owner account if ``code`` is a pending, unexpired setup code; burn the code.

    For the console (``camera-app owner setup``); the API runs the same steps with the argon2
    work on its password workers.
    """
    check_owner_request(username, password)
    if has_owner(conn):
        raise OwnerExists("an owner account already exists")
    matched = match_setup_code(pending_setup_codes(conn, clock.wall()), code, password)
    if matched is None:
        raise SetupError("setup code is wrong, used or expired")
    store_owner(conn, clock, matched, username)


def verify_password(conn: sqlite3.Connection, username: str, password: str) -> bool:
    return check_password_hash(stored_password_hash(conn, username), password)


def stored_password_hash(conn: sqlite3.Connection, username: str) -> str:
    """The account's argon2 hash; for an unknown name a dummy one, so that checking it costs the
    same argon2 work as for a real account and timing does not tell which names exist."""
    row = conn.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
    return _DUMMY_HASH if row is None else str(row[0])


def check_password_hash(hashed: str, password: str) -> bool:
    """Argon2 work only (no database): does ``password`` match ``hashed``?"""
    return _verify(hashed, password)


def account_role(conn: sqlite3.Connection, username: str) -> Role | None:
    row = conn.execute("SELECT role FROM users WHERE username = ?", (username,)).fetchone()
    return Role(row[0]) if row else None


def username_taken(conn: sqlite3.Connection, username: str) -> bool:
    row = conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone()
    return row is not None


def create_viewer_account(
    conn: sqlite3.Connection, clock: Clock, username: str, role: Role, password_hash: str
) -> None:
    """Create the account of an invited viewer with the hash of its chosen password (from
    :func:`hash_password`, after :func:`check_password`)."""
    if role not in INVITED_ROLES:
        raise SetupError("viewer accounts are family or parent accounts")
    try:
        conn.execute(
            "INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
            (username, role, password_hash, clock.wall()),
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
