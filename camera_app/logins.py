"""Logging in, sessions, the login rate limiter, and who is calling.

A login returns a random session token (256 bits); only its SHA-256 is stored, so a copy of the
database does not hand out live sessions. Clients send it as ``Authorization: Bearer <token>`` or
in the ``session`` cookie (HttpOnly, SameSite=Strict, Secure over TLS) that the viewer page uses.

Each session also has a public id (a digest of the token's digest, so it can be shown and named in
URLs without opening anything) and its activity: when it was last seen, from which address and
browser. Activity is kept in memory only: writing it to the SD card on every request would wear
it out, so after a restart ``last_seen_at`` is unknown (None) until the session is used again.

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
from collections.abc import Callable, Collection
from dataclasses import dataclass

from camera_app import accounts
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.viewers import ViewerStore

TOKEN_BYTES = 32
SESSION_ID_CHARS = 16
MAX_USER_AGENT_CHARS = 200
TOUCH_INTERVAL_S = 30.0  # activity is refreshed at most this often per session


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_id_of(token_hash: str) -> str:
    """The public id of a login session: derived from the stored digest, never the token."""
    return hashlib.sha256(f"session:{token_hash}".encode()).hexdigest()[:SESSION_ID_CHARS]


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
    session_id: str | None = None  # the public id of the login session (None for API tokens)


@dataclass(frozen=True, slots=True)
class SessionActivity:
    """When a session was last used, and by what (in memory: see the module docstring)."""

    last_seen_at: float
    client: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class LoginSession:
    """One login session as its holder may see it: never the token or its digest."""

    id: str
    created_at: float
    expires_at: float
    activity: SessionActivity | None

    def to_json(self, *, current: bool) -> dict[str, object]:
        seen = self.activity
        return {
            "id": self.id,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "last_seen_at": seen.last_seen_at if seen else None,
            "client": seen.client if seen else None,
            "user_agent": seen.user_agent if seen else None,
            "current": current,
        }


class LoginSessions:
    """Session tokens in the device database, and their activity in memory; used on the owner
    API's event loop."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, ttl_s: float) -> None:
        self._conn = conn
        self._clock = clock
        self._ttl_s = ttl_s
        self._activity: dict[str, SessionActivity] = {}  # by session id
        self._end_listeners: list[Callable[[list[str], str], None]] = []

    def add_end_listener(self, listener: Callable[[list[str], str], None]) -> None:
        """Call ``listener(session_ids, reason)`` whenever login sessions end here (logout,
        expiry found at the next login, password change, ended by id, revocation): what was
        opened with them, e.g. a live stream, ends with them."""
        self._end_listeners.append(listener)

    def open_ids(self, usernames: Collection[str]) -> set[str]:
        """The public ids of the unexpired login sessions of ``usernames``."""
        names = sorted(set(usernames))
        marks = ", ".join("?" * len(names))  # placeholders only: the names are bound
        rows = self._conn.execute(
            f"SELECT token_hash FROM sessions WHERE expires_at > ? AND username IN ({marks})",  # noqa: S608
            (self._clock.wall(), *names),
        ).fetchall()
        return {session_id_of(row[0]) for row in rows}

    def create(
        self,
        username: str,
        role: Role,
        subject_id: str | None = None,
        *,
        client: str = "",
        user_agent: str = "",
    ) -> tuple[str, float]:
        """A new session; returns the token (shown once) and its expiry."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock.wall()
        expires = now + self._ttl_s
        expired = self._conn.execute(
            "DELETE FROM sessions WHERE expires_at <= ? RETURNING token_hash", (now,)
        ).fetchall()
        self._forget([session_id_of(row[0]) for row in expired], "login expired")
        self._conn.execute(
            "INSERT INTO sessions (token_hash, username, role, subject_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_digest(token), username, role, subject_id, now, expires),
        )
        self._remember(session_id_of(_digest(token)), now, client, user_agent)
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
        return Principal(
            username, Role(role), subject_id, expires_at, session_id=session_id_of(_digest(token))
        )

    def touch(self, session_id: str, *, client: str, user_agent: str) -> None:
        """Note that a session was used now, from ``client`` with ``user_agent``."""
        now = self._clock.wall()
        seen = self._activity.get(session_id)
        if (
            seen is None
            or now - seen.last_seen_at >= TOUCH_INTERVAL_S
            or (seen.client, seen.user_agent) != (client, user_agent[:MAX_USER_AGENT_CHARS])
        ):
            self._remember(session_id, now, client, user_agent)

    def _remember(self, session_id: str, now: float, client: str, user_agent: str) -> None:
        self._activity[session_id] = SessionActivity(now, client, user_agent[:MAX_USER_AGENT_CHARS])

    def of_user(self, username: str) -> list[LoginSession]:
        """The unexpired sessions of ``username``, newest first."""
        rows = self._conn.execute(
            "SELECT token_hash, created_at, expires_at FROM sessions"
            " WHERE username = ? AND expires_at > ? ORDER BY created_at DESC",
            (username, self._clock.wall()),
        ).fetchall()
        sessions = []
        for token_hash, created_at, expires_at in (tuple(r) for r in rows):
            sid = session_id_of(token_hash)
            sessions.append(LoginSession(sid, created_at, expires_at, self._activity.get(sid)))
        return sessions

    def end_by_id(self, username: str, session_id: str) -> bool:
        """End one session of ``username`` by its public id; False when it has none such."""
        rows = self._conn.execute(
            "SELECT token_hash FROM sessions WHERE username = ?", (username,)
        ).fetchall()
        for (token_hash,) in (tuple(r) for r in rows):
            if session_id_of(token_hash) == session_id:
                self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
                self._forget([session_id], "login ended")
                return True
        return False

    def end_others(self, username: str, keep: str | None) -> int:
        """End every session of ``username`` except the one with public id ``keep``."""
        rows = self._conn.execute(
            "SELECT token_hash FROM sessions WHERE username = ?", (username,)
        ).fetchall()
        ended = [
            token_hash
            for (token_hash,) in (tuple(r) for r in rows)
            if session_id_of(token_hash) != keep
        ]
        for token_hash in ended:
            self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
        self._forget([session_id_of(h) for h in ended], "login ended")
        return len(ended)

    def _forget(self, session_ids: list[str], reason: str) -> None:
        """These sessions ended (``reason``): drop their activity, tell the end listeners."""
        for sid in session_ids:
            self._activity.pop(sid, None)
        if session_ids:
            for listener in self._end_listeners:
                listener(session_ids, reason)

    def end(self, token: str) -> None:
        self._conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
        self._forget([session_id_of(_digest(token))], "logged out")

    def end_for_subject(self, subject_id: str) -> int:
        """End every session of a viewer or public link (on revocation)."""
        ended = self._conn.execute(
            "DELETE FROM sessions WHERE subject_id = ? RETURNING token_hash", (subject_id,)
        ).fetchall()
        self._forget([session_id_of(row[0]) for row in ended], "revoked")
        return len(ended)

    def end_for_username(self, username: str) -> int:
        ended = self._conn.execute(
            "DELETE FROM sessions WHERE username = ? RETURNING token_hash", (username,)
        ).fetchall()
        self._forget([session_id_of(row[0]) for row in ended], "login ended")
        return len(ended)


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

    def complete(
        self, username: str, password_ok: bool, client: str, user_agent: str = ""
    ) -> LoginGranted | None:
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
        token, expires = self._sessions.create(
            username, role, viewer.id if viewer else None, client=client, user_agent=user_agent
        )
        self._audit.append(
            AuditEvent.LOGIN_OK, actor=actor, details={"role": role, "client": client}
        )
        return LoginGranted(username, role, token, expires)

    # --- the caller's own account ----------------------------------------------------------------

    def change_password(self, principal: Principal, new_hash: str, client: str) -> int:
        """Store the new password (``new_hash`` from :func:`accounts.hash_password`, checked by
        the caller against the current one) and end every other session of the account; audited
        (``password_changed``). Returns how many sessions were ended."""
        accounts.set_password_hash(self._conn, principal.username, new_hash)
        ended = self._sessions.end_others(principal.username, keep=principal.session_id)
        self._audit.append(
            AuditEvent.PASSWORD_CHANGED,
            actor=principal.username,
            details={"role": principal.role, "client": client, "sessions_ended": ended},
        )
        return ended

    def end_own_session(self, principal: Principal, session_id: str) -> bool:
        """End one of the caller's own login sessions (audited ``login_session_ended``); False
        when the caller has no session with that id (another user's id is not theirs)."""
        if not self._sessions.end_by_id(principal.username, session_id):
            return False
        self._audit.append(
            AuditEvent.LOGIN_SESSION_ENDED,
            actor=principal.username,
            details={
                "session": session_id,
                "role": principal.role,
                "current": session_id == principal.session_id,
            },
        )
        return True
