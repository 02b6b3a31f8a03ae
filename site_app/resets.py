"""Password reset links: staff give someone who forgot their password a single-use link, never
a password of their choosing.

Staff make the link from the account's card (:meth:`PasswordResets.issue`); the person opens it
(``/#reset=<code>``), sees their username, picks a new password and is logged in, every other
login of the account ended (:meth:`PasswordResets.redeem`). The code is of the invites' kind
(80 random bits, only its SHA-256 kept, typed forgivingly); it works once, for
:data:`RESET_VALID_S`, and a newer link for the account withdraws it, as does disabling the
account. Each link made and used is in the site's audit log, in its transaction (never the code).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from site_app.accounts import Account, SiteAccounts
from site_app.invites import InviteRefused, code_digest, new_code

RESET_VALID_S = 3 * 86400.0  # long enough to reach the person, short for a code in a message


class ResetRefused(InviteRefused):
    """The reset code cannot be used: ``code`` and ``status`` for the API."""


_UNKNOWN = (404, "reset_unknown", "no reset link has this code; ask the school for a new one")
_USED = (410, "reset_used", "this reset link was used already")
_EXPIRED = (410, "reset_expired", "this reset link has expired; ask the school for a new one")
_WITHDRAWN = (410, "reset_withdrawn", "this reset link was replaced or withdrawn")


@dataclass(frozen=True, slots=True)
class Reset:
    id: str
    account: Account
    expires_at: float


class PasswordResets:
    """Reset links in the site's database (its one connection, on the site's loop)."""

    def __init__(
        self, conn: sqlite3.Connection, clock: Clock, accounts: SiteAccounts, audit: AuditLog
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._accounts = accounts
        self._audit = audit

    def withdraw(self, account_id: str) -> None:
        """Withdraw the account's pending link, if any (a newer link, the account disabled: a
        link must not come back to life if the account is enabled again)."""
        self._conn.execute(
            "UPDATE password_resets SET withdrawn_at = ? WHERE account_id = ?"
            " AND used_at IS NULL AND withdrawn_at IS NULL",
            (self._clock.wall(), account_id),
        )

    def issue(self, account: Account, *, by: Account) -> tuple[Reset, str]:
        """A new link for ``account`` (any it had before withdrawn) and its code, shown once."""
        now = self._clock.wall()
        code, reset_id = new_code(), uuid.uuid4().hex
        with self._audit.transaction():
            self.withdraw(account.id)
            self._conn.execute(
                "INSERT INTO password_resets (id, code_hash, account_id, created_at, created_by,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (reset_id, code_digest(code), account.id, now, by.id, now + RESET_VALID_S),
            )
            self._audit.append(
                AuditEvent.SITE_PASSWORD_RESET_ISSUED,
                actor=by.username,
                details={
                    "reset": reset_id,
                    "account": account.id,
                    "username": account.username,
                    "expires_at": now + RESET_VALID_S,
                },
            )
        return Reset(reset_id, account, now + RESET_VALID_S), code

    def usable(self, code: str) -> Reset:
        """The pending link of ``code``; raises :class:`ResetRefused` saying why not (a link
        of an account disabled since is withdrawn)."""
        row = self._conn.execute(
            "SELECT id, account_id, expires_at, used_at, withdrawn_at FROM password_resets"
            " WHERE code_hash = ?",
            (code_digest(code),),
        ).fetchone()
        if row is None:
            raise ResetRefused(*_UNKNOWN)
        reset_id, account_id, expires_at, used_at, withdrawn_at = row
        account = self._accounts.get(account_id)
        if used_at is not None:
            raise ResetRefused(*_USED)
        if withdrawn_at is not None or account is None:
            raise ResetRefused(*_WITHDRAWN)
        if expires_at <= self._clock.wall():
            raise ResetRefused(*_EXPIRED)
        return Reset(reset_id, account, expires_at)

    def redeem(self, code: str, password_hash: str) -> tuple[Account, list[str]]:
        """Burn ``code`` and give its account ``password_hash``, ending every login of the
        account (their references are returned with the account), in one transaction. Of two
        uses of one code exactly one sets a password (the UPDATE's WHERE clause is the check).
        Raises :class:`ResetRefused` with nothing changed."""
        reset = self.usable(code)
        now = self._clock.wall()
        with self._audit.transaction():
            burnt = self._conn.execute(
                "UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL"
                " AND withdrawn_at IS NULL AND expires_at > ?",
                (now, reset.id, now),
            ).rowcount
            if not burnt:
                raise ResetRefused(*_USED)
            ended = self._accounts.set_password(reset.account.id, password_hash, keep=None)
            self._audit.append(
                AuditEvent.SITE_PASSWORD_RESET,
                actor=reset.account.username,
                details={"reset": reset.id, "account": reset.account.id},
            )
        return reset.account, ended
