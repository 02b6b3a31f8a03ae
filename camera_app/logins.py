"""Logging in, sessions, the login rate limiter, and who is calling.

A login returns a random session token (256 bits); only its SHA-256 is stored, so a copy of the
database does not hand out live sessions. Clients send it as ``Authorization: Bearer <token>`` or
in the ``session`` cookie (HttpOnly, SameSite=Strict, Secure over TLS) that the viewer page uses.

The limiter counts failed attempts per account name and per client address in a sliding window.
Once either reaches the limit, further attempts are refused with HTTP 429 *before* the password is
checked, so a guesser learns nothing and costs the device no argon2 work.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from camera_app import accounts
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.viewers import ViewerStore

TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request.

    ``scopes`` is None for a person's login, and the scopes of an integration's API token
    (``camera_app.tokens``) otherwise: such a caller reaches only routes that name one of them.
    """

    username: str
    role: Role
    subject_id: str | None  # viewer id, public link id, or API token id
    expires_at: float
    scopes: frozenset[str] | None = None


class LoginSessions:
    """Session tokens in the device database."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, ttl_s: float) -> None:
        self._conn = conn
        self._clock = clock
        self._ttl_s = ttl_s

    def create(self, username: str, role: Role, subject_id: str | None = None) -> tuple[str, float]:
        """A new session; returns the token (shown once) and its expiry."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.wall()
        expires = now + self._ttl_s
        self._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        self._conn.execute(
            "INSERT INTO sessions (token_hash, username, role, subject_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_digest(token), username, role, subject_id, now, expires),
        )
        return token, expires

    def lookup(self, token: str) -> Principal | None:
        if not token or len(token) > 256:
            return None
        row = self._conn.execute(
            "SELECT username, role, subject_id, expires_at FROM sessions"
            " WHERE token_hash = ? AND expires_at > ?",
            (_digest(token), self._clock.wall()),
        ).fetchone()
        if row is None:
            return None
        username, role, subject_id, expires_at = tuple(row)
        return Principal(username, Role(role), subject_id, expires_at)

    def end(self, token: str) -> None:
        self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    def end_for_subject(self, subject_id: str) -> int:
        """End every session of a viewer or public link (on revocation)."""
        return self._conn.execute(
            "DELETE FROM sessions WHERE subject_id = ?", (subject_id,)
        ).rowcount

    def end_for_username(self, username: str) -> int:
        return self._conn.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount


class LoginLimiter:
    """Sliding-window count of failed attempts per key (account name, client address).

    In memory: a restart clears it, which costs an attacker a reboot of the device per window.
    Keys are bounded so a flood of made-up names cannot exhaust memory.
    """

    MAX_KEYS = 10_000

    def __init__(self, max_failures: int, window_s: float, clock: Clock | None = None) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._mono = clock.monotonic if clock else time.monotonic
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        q = self._failures[key]
        while q and now - q[0] >= self.window_s:
            q.popleft()
        return q

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed for all ``keys``; 0 when allowed now."""
        now = self._mono()
        wait = 0.0
        with self._lock:
            for key in keys:
                q = self._trim(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.window_s - (now - q[0]))
                if not q:
                    self._failures.pop(key, None)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._mono()
        with self._lock:
            if len(self._failures) >= self.MAX_KEYS:
                self._evict(now)
            for key in keys:
                self._trim(key, now).append(now)

    def succeeded(self, key: str) -> None:
        """A correct password clears the account's count (not the address's)."""
        with self._lock:
            self._failures.pop(key, None)

    def _evict(self, now: float) -> None:
        for key in list(self._failures):
            if not self._trim(key, now):
                del self._failures[key]
        while len(self._failures) >= self.MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))


@dataclass(frozen=True, slots=True)
class LoginGranted:
    """A successful login: the session token (shown once) and whose it is."""

    username: str
    role: Role
    token: str
    expires_at: float


class Logins:
    """Which account a password opens, the session it gets, and the audit record, in one call.

    :meth:`password_ok` runs argon2 (tens of milliseconds, 64 MiB): call it off the event loop.
    :meth:`complete` then decides and records; an invited viewer whose invitation was revoked is
    refused even with the right password.
    """

    MAX_ACTOR_CHARS = 64  # an unauthenticated name is stored only this long

    def __init__(
        self,
        conn: sqlite3.Connection,
        sessions: LoginSessions,
        viewers: ViewerStore,
        audit: AuditLog,
    ) -> None:
        self._conn = conn
        self._sessions = sessions
        self._viewers = viewers
        self._audit = audit

    def password_ok(self, username: str, password: str) -> bool:
        return accounts.verify_password(self._conn, username, password)

    def complete(self, username: str, password_ok: bool, client: str) -> LoginGranted | None:
        """Open a session if the password was right and the account may log in; audit either
        way (``login_ok`` / ``login_failed``). None when refused."""
        role = accounts.account_role(self._conn, username) if password_ok else None
        viewer = self._viewers.by_username(username) if role in INVITED_ROLES else None
        refused = role is None or (
            role in INVITED_ROLES and (viewer is None or viewer.revoked_at is not None)
        )
        actor = username[: self.MAX_ACTOR_CHARS]
        if refused or role is None:
            self._audit.append(AuditEvent.LOGIN_FAILED, actor=actor, details={"client": client})
            return None
        token, expires = self._sessions.create(username, role, viewer.id if viewer else None)
        self._audit.append(
            AuditEvent.LOGIN_OK, actor=actor, details={"role": role, "client": client}
        )
        return LoginGranted(username, role, token, expires)
