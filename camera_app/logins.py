"""Logging in, sessions, the login rate limiter, and who is calling.

A login returns a random session token (256 bits); only its SHA-256 is stored, so a copy of the
database does not hand out live sessions. Clients send it as ``Authorization: Bearer <token>`` or
in the ``session`` cookie (HttpOnly, SameSite=Strict, Secure over TLS) that the viewer page uses.

Each session also has a public id (a digest of the token's digest, so it can be shown and named in
URLs without opening anything) and its activity: when it was last seen, from which address and
browser. Activity is kept in memory only: writing it to the SD card on every request would wear
it out, so after a restart ``last_seen_at`` is unknown (None) until the session is used again.

The limiter (:class:`LoginLimiter`) counts attempts per (account, address), per address and per
device cookie in a sliding window, and counts each attempt *before* its password is checked (a
success takes it back), so concurrent guesses cannot all slip past the check. Once a count is at
its limit, further attempts are refused with HTTP 429 before the password is checked, so a
guesser learns nothing and costs the device no argon2 work. Nobody elsewhere can lock an account
out; ``camera-app unlock-logins`` lifts a lock from the device's console (:class:`LoginUnlocks`).
Failed logins are audited without the text of unknown names, and only so many per hour
(:class:`FailedLoginAudit`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from camera_app import accounts
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.viewers import ViewerStore

log = logging.getLogger(__name__)

TOKEN_BYTES = 32
UNKNOWN_ACTOR = "unknown user"  # the actor of a failed login for a name that is no account's
UNAUTHENTICATED_ACTOR = "unauthenticated clients"  # of the summary of failures left out
CONSOLE_ACTOR = "device console"  # of what is done with the camera-app command on the device
_WELL_FORMED_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # as the API accepts for new accounts
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


Key = tuple[str, ...]
"""A limiter key: ``("pair", name, address)``, ``("address", address)``, ``("device", name,
id)``, ``("account", name)``, ``("password", name)``, ``("codes", address)``, ``("setup",)``."""

# what ``camera-app unlock-logins USER`` clears: the keys that name an account
_ACCOUNT_KEYS = frozenset({"pair", "device", "account", "password"})


def throttle_address(address: str) -> str:
    """The part of a client address that the limits count: an IPv4 address whole, an IPv6
    address by its /64 (one home or one host is given a whole /64, so counting single IPv6
    addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``max_failures`` counted attempts under ``key`` per window (None: counted only)."""

    key: Key
    max_failures: int | None


class TooManyAttempts(Exception):
    """Refused before the secret is checked; ``retry_after``: seconds until it may be tried."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed attempts; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class Attempt:
    """One attempt the limiter let through, already counted as a failure under its keys.

    Counting it before the secret is checked (not after the awaited argon2 work) is what keeps
    concurrent guesses from all passing the check at once. A failure needs nothing more: the
    attempt stays counted. :meth:`succeeded` takes it back and clears what a success clears;
    :meth:`refund` takes it back when it turned out to be no attempt (busy, malformed, ...).
    Only the first of these calls counts.
    """

    def __init__(self, limiter: LoginLimiter, at: float, keys: list[Key], clear: list[Key]):
        self._limiter = limiter
        self._at = at
        self._keys = keys
        self._clear = clear
        self._settled = False

    def succeeded(self) -> None:
        self._settle(self._clear)

    def refund(self) -> None:
        self._settle([])

    def _settle(self, clear: list[Key]) -> None:
        if not self._settled:
            self._settled = True
            self._limiter.take_back(self._at, self._keys, clear)


class LoginUnlocks:
    """Requests from the device's console to lift login locks (table ``login_unlocks``).

    The limiter keeps its counts in memory (failed logins are not written to the SD card), so the
    console cannot clear them directly; it adds a row here and the running service applies the
    rows it has not seen yet before it refuses an attempt. Works with the service running or not.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def latest(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM login_unlocks").fetchone()
        return int(row[0])

    def after(self, last_id: int) -> list[tuple[int, str | None]]:
        rows = self._conn.execute(
            "SELECT id, username FROM login_unlocks WHERE id > ? ORDER BY id", (last_id,)
        ).fetchall()
        return [(row[0], row[1]) for row in rows]


def unlock_logins(conn: sqlite3.Connection, clock: Clock, username: str | None) -> None:
    """Lift the login locks of ``username`` (None: every lock, addresses' too) on the running
    service; audited (``logins_unlocked``, actor ``device console``)."""
    conn.execute(
        "INSERT INTO login_unlocks (username, requested_at) VALUES (?, ?)",
        (username, clock.wall()),
    )
    AuditLog(conn, clock).append(
        AuditEvent.LOGINS_UNLOCKED, actor=CONSOLE_ACTOR, details={"username": username}
    )


class LoginLimiter:
    """Sliding-window counts of attempts at passwords and codes, per key (see :data:`Key`).

    A password login is counted per (account, address) and per address, never per account
    alone: a guesser elsewhere cannot lock the owner out. An account that fails from many
    addresses (``account_slowdown`` failures in the window) is slowed down instead: each address
    then has one attempt per window at it, not ``max_failures``; an address that has not failed
    still gets its attempt. A browser that logged in to the account before (its device cookie,
    :class:`LoginDevices`) is counted on its own, so it is not locked out from a shared address
    (all clients through the relay's tunnel are 127.0.0.1).

    In memory: a restart clears it, which costs an attacker a reboot of the device per window.
    Keys are bounded so a flood of made-up names cannot exhaust memory. Used on the event loop
    (the lock guards the counts against any other thread all the same).
    """

    MAX_KEYS = 10_000

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        clock: Clock | None = None,
        *,
        per_address: int | None = None,
        account_slowdown: int | None = None,
        unlocks: LoginUnlocks | None = None,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.per_address = per_address or max_failures
        self.account_slowdown = account_slowdown
        self._mono = clock.monotonic if clock else time.monotonic
        self._attempts: dict[Key, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._unlocks = unlocks
        self._unlocks_seen = unlocks.latest() if unlocks else 0

    # --- what each kind of attempt counts against ---------------------------------------------

    def login(self, username: str, address: str, device: str | None = None) -> Attempt:
        """A password login for ``username`` from ``address``; ``device``: the id of the
        caller's valid device cookie for this account (:meth:`LoginDevices.device_of`)."""
        name, where = username.lower(), throttle_address(address)
        if device is not None:
            quota = Quota(("device", name, device), self.max_failures)
            return self._reserve([quota], clear=[quota.key])
        pair = ("pair", name, where)
        with self._lock:
            per_pair = self.max_failures
            account = ("account", name)
            slow = self.account_slowdown
            if slow is not None and len(self._trim(account, self._mono())) >= slow:
                per_pair = 1
            quotas = [
                Quota(pair, per_pair),
                Quota(("address", where), self.per_address),
                Quota(account, None),
            ]
            return self._reserve_locked(quotas, clear=[pair])

    def password_change(self, username: str, address: str) -> Attempt:
        """The current password, given to change it: a session of the account is guessing, so
        it is counted per account (this does not touch the account's logins) and per address."""
        quotas = [
            Quota(("password", username.lower()), self.max_failures),
            Quota(("address", throttle_address(address)), self.per_address),
        ]
        return self._reserve(quotas, clear=[])

    def code(self, address: str, *, shared: str | None = None) -> Attempt:
        """A setup code, invite code or public link from ``address``; ``shared``: a key counted
        for every address as well (the setup code: few tries in all before an owner exists)."""
        where = throttle_address(address)
        quotas = [
            Quota(("codes", where), self.max_failures),
            Quota(("address", where), self.per_address),
        ]
        if shared is not None:
            quotas.append(Quota((shared,), self.max_failures))
        return self._reserve(quotas, clear=[])

    # --- counting -----------------------------------------------------------------------------

    def _reserve(self, quotas: list[Quota], clear: list[Key]) -> Attempt:
        with self._lock:
            return self._reserve_locked(quotas, clear)

    def _reserve_locked(self, quotas: list[Quota], clear: list[Key]) -> Attempt:
        now = self._mono()
        wait = self._wait(quotas, now)
        if wait > 0 and self._apply_unlocks():
            wait = self._wait(quotas, now)
        if wait > 0:
            raise TooManyAttempts(wait)
        if len(self._attempts) >= self.MAX_KEYS:
            self._evict(now)
        for quota in quotas:
            self._attempts[quota.key].append(now)
        return Attempt(self, now, [q.key for q in quotas], clear)

    def _wait(self, quotas: list[Quota], now: float) -> float:
        """Seconds until every quota has room for one more attempt; 0 when it has now."""
        wait = 0.0
        for quota in quotas:
            if quota.max_failures is None:
                continue
            q = self._trim(quota.key, now)
            over = len(q) - quota.max_failures
            if over >= 0:  # room again when the over-th oldest counted attempt leaves the window
                wait = max(wait, self.window_s - (now - q[over]))
        return wait

    def _trim(self, key: Key, now: float) -> deque[float]:
        q = self._attempts.get(key)
        if q is None:
            return deque()
        while q and now - q[0] >= self.window_s:
            q.popleft()
        if not q:
            del self._attempts[key]
        return q

    def take_back(self, at: float, keys: list[Key], clear: list[Key]) -> None:
        """Uncount one attempt made at ``at`` under ``keys``; forget ``clear`` (see
        :class:`Attempt`)."""
        with self._lock:
            for key in keys:
                q = self._attempts.get(key)
                if q is not None and at in q:
                    q.remove(at)
            for key in clear:
                self._attempts.pop(key, None)

    def _apply_unlocks(self) -> bool:
        """Apply the console's unlock requests not seen yet; True if there were any."""
        if self._unlocks is None:
            return False
        requests = self._unlocks.after(self._unlocks_seen)
        for request_id, username in requests:
            self._unlocks_seen = max(self._unlocks_seen, request_id)
            if username is None:
                self._attempts.clear()
                log.warning("every login lock was lifted from the device's console")
                continue
            name = username.lower()
            for key in [k for k in self._attempts if k[0] in _ACCOUNT_KEYS and k[1] == name]:
                del self._attempts[key]
            log.warning("the login locks of one account were lifted from the device's console")
        return bool(requests)

    def _evict(self, now: float) -> None:
        for key in list(self._attempts):
            self._trim(key, now)
        while len(self._attempts) >= self.MAX_KEYS:
            self._attempts.pop(next(iter(self._attempts)))


class LoginDevices:
    """Device cookies: a browser that logged in to an account gets a cookie naming a device id,
    signed for that account (HMAC-SHA256 with a key derived from the device secret).

    With it, the browser's later logins to that account are counted per device instead of per
    address (see :class:`LoginLimiter`): whoever guesses from the same address, or from many,
    cannot lock it out. The cookie opens nothing by itself, and it can only be had by logging in
    with the password. (OWASP: "Slow down online guessing attacks with device cookies".)
    """

    COOKIE = "login_device"
    MAX_AGE_S = 365 * 86400
    _ID_BYTES = 12

    def __init__(self, device_secret: bytes) -> None:
        self._key = hmac.new(device_secret, b"camera-app login device cookie v1", "sha256").digest()

    def issue(self, username: str) -> str:
        device = secrets.token_urlsafe(self._ID_BYTES)
        return f"{device}.{self._mac(username, device)}"

    def device_of(self, username: str, cookie: str) -> str | None:
        """The device id in ``cookie`` if it is a valid cookie for ``username``; else None."""
        device, _, mac = cookie.partition(".")
        if not device or len(cookie) > 100:
            return None
        return device if hmac.compare_digest(mac, self._mac(username, device)) else None

    def _mac(self, username: str, device: str) -> str:
        message = f"{username.lower()}\0{device}".encode()
        digest = hmac.new(self._key, message, "sha256").digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class FailedLoginAudit:
    """Writes the ``login_failed`` records: who may be named, and how many.

    The audit log is kept for years and cannot be edited, and a failed login is not
    authenticated: the name typed may be a password or an ID number typed in the wrong field. So
    the actor is the name only when it is an existing account's, well-formed, and otherwise
    ``unknown user`` (the text is not kept anywhere). And anyone can fail logins, so records are
    rate-limited: per hour, at most :attr:`PER_ADDRESS` per client address and :attr:`PER_WINDOW`
    in all. What is left out is counted, and written as one ``login_failures_suppressed`` record
    (the count, the addresses with the most) once the hour is over: with the next failed login,
    or when the service stops.
    """

    WINDOW_S = 3600.0
    PER_ADDRESS = 3
    PER_WINDOW = 10
    LISTED = 20  # addresses named in a summary; the rest are counted
    MAX_ADDRESSES = 10_000

    def __init__(self, conn: sqlite3.Connection, audit: AuditLog, clock: Clock) -> None:
        self._conn = conn
        self._audit = audit
        self._clock = clock
        self._window = self._window_now()
        self._written: Counter[str] = Counter()
        self._suppressed: Counter[str] = Counter()
        self._unlisted = 0  # suppressed beyond MAX_ADDRESSES distinct addresses
        self._first_at: float | None = None
        self._last_at: float | None = None

    def actor(self, username: str) -> str:
        """The name to record for a login attempt that was not authenticated."""
        if _WELL_FORMED_NAME.fullmatch(username) and accounts.username_taken(self._conn, username):
            return username
        return UNKNOWN_ACTOR

    def failed(self, username: str, client: str) -> None:
        """Record a failed login for ``username`` from ``client``, within the limits."""
        if self._window_now() != self._window:
            self.flush()
        if self._written[client] < self.PER_ADDRESS and self._written.total() < self.PER_WINDOW:
            self._written[client] += 1
            self._audit.append(
                AuditEvent.LOGIN_FAILED, actor=self.actor(username), details={"client": client}
            )
            return
        now = self._clock.wall()
        self._first_at = self._first_at or now
        self._last_at = now
        if client in self._suppressed or len(self._suppressed) < self.MAX_ADDRESSES:
            self._suppressed[client] += 1
        else:
            self._unlisted += 1

    def flush(self) -> None:
        """Write the summary of what was left out (if anything) and start a new window."""
        suppressed = self._suppressed.total() + self._unlisted
        if suppressed:
            ranked = sorted(self._suppressed.items(), key=lambda item: (-item[1], item[0]))
            self._audit.append(
                AuditEvent.LOGIN_FAILURES_SUPPRESSED,
                actor=UNAUTHENTICATED_ACTOR,
                details={
                    "suppressed": suppressed,
                    "clients": [[client, n] for client, n in ranked[: self.LISTED]],
                    "other_clients": max(0, len(ranked) - self.LISTED),
                    "first_at": self._first_at,
                    "last_at": self._last_at,
                    "window_s": self.WINDOW_S,
                },
            )
        self._window = self._window_now()
        self._written.clear()
        self._suppressed.clear()
        self._unlisted = 0
        self._first_at = self._last_at = None

    def _window_now(self) -> int:
        return int(self._clock.monotonic() // self.WINDOW_S)


@dataclass(frozen=True, slots=True)
class LoginGranted:
    """A successful login: the session token (shown once) and whose it is."""

    username: str
    role: Role
    token: str
    expires_at: float


class Logins:
    """Which account a password opens, the session it gets, and the audit record.

    :meth:`password_hash` gives the hash to check on the password workers (argon2 is tens of
    milliseconds and 64 MiB: never on the event loop); :meth:`complete` then decides and
    records; an invited viewer whose invitation was revoked is refused even with the right
    password.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        sessions: LoginSessions,
        viewers: ViewerStore,
        audit: AuditLog,
        failures: FailedLoginAudit,
    ) -> None:
        self._conn = conn
        self._sessions = sessions
        self._viewers = viewers
        self._audit = audit
        self.failures = failures

    def password_hash(self, username: str) -> str:
        """The hash to check the password against (a dummy one for an unknown name)."""
        return accounts.stored_password_hash(self._conn, username)

    def complete(
        self, username: str, password_ok: bool, client: str, user_agent: str = ""
    ) -> LoginGranted | None:
        """Open a session if the password was right and the account may log in; audit either
        way (``login_ok``, or ``login_failed`` through :class:`FailedLoginAudit`). None when
        refused."""
        role = accounts.account_role(self._conn, username) if password_ok else None
        viewer = self._viewers.by_username(username) if role in INVITED_ROLES else None
        refused = role is None or (
            role in INVITED_ROLES and (viewer is None or viewer.revoked_at is not None)
        )
        if refused or role is None:
            self.failures.failed(username, client)
            return None
        token, expires = self._sessions.create(
            username, role, viewer.id if viewer else None, client=client, user_agent=user_agent
        )
        self._audit.append(
            AuditEvent.LOGIN_OK, actor=username, details={"role": role, "client": client}
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
