"""The site's accounts and their logins.

Passwords are argon2 hashes (``camera_app.accounts``' helpers: the same hasher and the same rules
as the devices' accounts); checking one is argon2 work and runs off the event loop. A login is a
random bearer token of which only the SHA-256 is stored, valid for ``http.session_hours``.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from enum import StrEnum

from camera_app.accounts import check_password, check_password_hash, hash_password
from camera_app.sitelink.protocol import ENDED_LOGIN_KEEP_S, MAX_ENDED_LOGINS, EndedLogin
from firmware.clock import Clock
from firmware.errors import AppError, ExitCode
from privacy.audit import AuditEvent, AuditLog

CONSOLE = "console"  # who did what ``camera-site`` does on the command line


class SiteRole(StrEnum):
    STAFF = "staff"  # the school's admin: accounts, grants, the devices
    PARENT = "parent"  # watches their child's room


class AccountError(AppError, ValueError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    role: SiteRole


@dataclass(frozen=True, slots=True)
class Login:
    account: Account
    expires_at: float
    ref: str  # names the login to the devices (their tickets for it), never its token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ref(token_hash: str) -> str:
    """A login's reference: the start of its token's digest (a token cannot be got back)."""
    return token_hash[:16]


# checked against for an unknown name, so a miss costs the same argon2 work as a wrong password
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class SiteAccounts:
    """Accounts and login sessions in the site's database (one connection, one thread)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, session_s: float) -> None:
        self._conn = conn
        self._clock = clock
        self._session_s = session_s

    def create(self, username: str, role: SiteRole, password_hash: str, *, by: str) -> Account:
        """A new account with the hash of its password (:func:`prepare_password`)."""
        if not username.strip() or len(username) > 64:
            raise AccountError("username must be 1-64 characters")
        account = Account(uuid.uuid4().hex, username, role)
        try:
            self._conn.execute(
                "INSERT INTO accounts (id, username, role, password_hash, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (account.id, username, role, password_hash, self._clock.wall(), by),
            )
        except sqlite3.IntegrityError:
            raise AccountError(f"the account {username!r} exists already") from None
        return account

    def get(self, account_id: str) -> Account | None:
        row = self._conn.execute(
            "SELECT id, username, role FROM accounts WHERE id = ? AND disabled_at IS NULL",
            (account_id,),
        ).fetchone()
        return Account(row[0], row[1], SiteRole(row[2])) if row else None

    def by_username(self, username: str) -> Account | None:
        row = self._conn.execute(
            "SELECT id FROM accounts WHERE username = ? AND disabled_at IS NULL", (username,)
        ).fetchone()
        return self.get(row[0]) if row else None

    def password_hash(self, username: str) -> str:
        """The stored hash, or a dummy one for an unknown or disabled name."""
        row = self._conn.execute(
            "SELECT password_hash FROM accounts WHERE username = ? AND disabled_at IS NULL",
            (username,),
        ).fetchone()
        return str(row[0]) if row else _DUMMY_HASH

    def accept_terms(self, account_id: str, version: str) -> None:
        """Record that the account accepted the viewing terms of ``version``."""
        self._conn.execute(
            "UPDATE accounts SET terms_version = ?, terms_at = ? WHERE id = ?",
            (version, self._clock.wall(), account_id),
        )

    def disable(self, account_id: str) -> list[str]:
        """Disable the account (kept, for the audit trail's sake) and end its logins; returns
        the references of the logins ended."""
        self._conn.execute(
            "UPDATE accounts SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL",
            (self._clock.wall(), account_id),
        )
        return self._ended(
            "DELETE FROM logins WHERE account_id = ? RETURNING token_hash, account_id, expires_at",
            (account_id,),
        )

    def _ended(self, delete: str, params: tuple[str, ...]) -> list[str]:
        """Run ``delete`` (a DELETE of logins RETURNING their token hash, account and expiry);
        the references of those that had not expired yet, kept as ended (:meth:`ended_lately`)."""
        rows = self._conn.execute(delete, params).fetchall()
        now = self._clock.wall()
        ended = [(_ref(r[0]), r[1], now) for r in rows if r[2] > now]
        self._conn.executemany(
            "INSERT OR REPLACE INTO ended_logins (login, account_id, ended_at) VALUES (?, ?, ?)",
            ended,
        )
        return [login for login, _, _ in ended]

    def ended_lately(self) -> list[EndedLogin]:
        """The logins that ended early within ``ENDED_LOGIN_KEEP_S`` (older ones are dropped:
        every ticket of theirs has expired), oldest first, ``MAX_ENDED_LOGINS`` at most."""
        since = self._clock.wall() - ENDED_LOGIN_KEEP_S
        self._conn.execute("DELETE FROM ended_logins WHERE ended_at <= ?", (since,))
        rows = self._conn.execute(
            "SELECT account_id, login, ended_at FROM ended_logins"
            " ORDER BY ended_at DESC, login LIMIT ?",
            (MAX_ENDED_LOGINS,),
        ).fetchall()
        return [EndedLogin(account=r[0], login=r[1], ended_at=r[2]) for r in reversed(rows)]

    def disabled(self) -> list[tuple[Account, float]]:
        """The disabled accounts and when each was disabled, most recent first."""
        rows = self._conn.execute(
            "SELECT id, username, role, disabled_at FROM accounts WHERE disabled_at IS NOT NULL"
            " ORDER BY disabled_at DESC"
        ).fetchall()
        return [(Account(r[0], r[1], SiteRole(r[2])), float(r[3])) for r in rows]

    def enable(self, account_id: str) -> Account | None:
        """Enable a disabled account again (no login, no grant: those ended with the disable);
        None when there is no disabled account with this id."""
        changed = self._conn.execute(
            "UPDATE accounts SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL",
            (account_id,),
        ).rowcount
        return self.get(account_id) if changed else None

    def set_password(self, account_id: str, password_hash: str, *, keep: str | None) -> list[str]:
        """Replace the account's password hash; every login of the account but ``keep`` (the
        token of the one that changed it; None: every login) ends; returns their references."""
        self._conn.execute(
            "UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id)
        )
        kept = _digest(keep) if keep is not None else ""
        return self._ended(
            "DELETE FROM logins WHERE account_id = ? AND token_hash != ?"
            " RETURNING token_hash, account_id, expires_at",
            (account_id, kept),
        )

    def terms_of(self, account_id: str) -> str | None:
        """The version of the viewing terms the account accepted, if any."""
        row = self._conn.execute(
            "SELECT terms_version FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        return row[0] if row else None

    def all(self) -> list[Account]:
        rows = self._conn.execute(
            "SELECT id, username, role FROM accounts WHERE disabled_at IS NULL ORDER BY created_at"
        ).fetchall()
        return [Account(r[0], r[1], SiteRole(r[2])) for r in rows]

    def log_in(self, account: Account) -> tuple[str, Login]:
        """A new login of ``account`` (after its password was checked): the token and the login."""
        token = secrets.token_urlsafe(32)
        now = self._clock.wall()
        expires = now + self._session_s
        self._conn.execute("DELETE FROM logins WHERE expires_at <= ?", (now,))
        self._conn.execute(
            "INSERT INTO logins (token_hash, account_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (_digest(token), account.id, now, expires),
        )
        return token, Login(account, expires, _ref(_digest(token)))

    def login(self, token: str) -> Login | None:
        digest = _digest(token)
        row = self._conn.execute(
            "SELECT account_id, expires_at FROM logins WHERE token_hash = ? AND expires_at > ?",
            (digest, self._clock.wall()),
        ).fetchone()
        if row is None:
            return None
        account = self.get(row[0])
        return Login(account, row[1], _ref(digest)) if account is not None else None

    def log_out(self, token: str) -> list[str]:
        """End the login of ``token``; its reference (none when it had ended already)."""
        return self._ended(
            "DELETE FROM logins WHERE token_hash = ? RETURNING token_hash, account_id, expires_at",
            (_digest(token),),
        )


def create_account(
    accounts: SiteAccounts,
    audit: AuditLog,
    username: str,
    role: SiteRole,
    password_hash: str,
    *,
    by: Account | None,
) -> Account:
    """A new account and its audit record, in one transaction (``by``: staff, or None on the
    console); raises :class:`AccountError`."""
    with audit.transaction():
        account = accounts.create(username, role, password_hash, by=by.id if by else CONSOLE)
        audit.append(
            AuditEvent.SITE_ACCOUNT_CREATED,
            actor=by.username if by else CONSOLE,
            details={"account": account.id, "username": username, "role": role.value},
        )
    return account


def prepare_password(username: str, password: str) -> str:
    """Check a new password against the devices' rules and hash it (argon2: off the loop)."""
    try:
        check_password(password, username)
    except AppError as err:
        raise AccountError(str(err)) from None
    return hash_password(password)


def password_matches(hashed: str, password: str) -> bool:
    """Argon2 work only: off the event loop."""
    return check_password_hash(hashed, password)
