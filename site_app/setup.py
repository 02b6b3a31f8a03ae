"""The site's first staff account, without a default password or a shell on the relay host.

While the site has no staff account, ``camera-site run`` shows a one-time setup code on its
console (the journal under systemd) with the page's address (:func:`announce`); whoever installed
the site opens the page, types the code, and picks the office's username and password
(:meth:`SiteSetup.redeem`). The code is of the invites' kind (80 random bits, only its SHA-256
kept, typed forgivingly), works for :data:`SETUP_CODE_TTL_S`, once, and only while there is no
staff account; wrong codes count against the login limiter's code quota for every address at once
(``shared="setup"``: a handful of tries in all). ``camera-site add-account`` still makes accounts
on the console.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import TextIO

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from site_app.accounts import Account, AccountError, SiteAccounts, SiteRole
from site_app.invites import InviteRefused, code_digest, new_code

SETUP_CODE_TTL_S = 7 * 86400.0
SETUP = "setup"  # who made the first staff account, in the accounts table and the audit log


class SetupRefused(InviteRefused):
    """The setup cannot be done: ``code`` and ``status`` for the API."""


class SiteSetup:
    """Setup codes in the site's database (its one connection, on the site's loop)."""

    def __init__(
        self, conn: sqlite3.Connection, clock: Clock, accounts: SiteAccounts, audit: AuditLog
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._accounts = accounts
        self._audit = audit

    def needed(self) -> bool:
        """Whether the site has no staff account yet."""
        return not any(a.role == SiteRole.STAFF for a in self._accounts.all())

    def pending(self) -> bool:
        """Whether a setup code that still works was made."""
        row = self._conn.execute(
            "SELECT 1 FROM setup_codes WHERE used_at IS NULL AND expires_at > ?",
            (self._clock.wall(),),
        ).fetchone()
        return row is not None

    def issue(self) -> str:
        """A new setup code (any earlier one ends), to show once."""
        code, now = new_code(), self._clock.wall()
        with self._audit.transaction():
            self._conn.execute("UPDATE setup_codes SET used_at = ? WHERE used_at IS NULL", (now,))
            self._conn.execute(
                "INSERT INTO setup_codes (code_hash, created_at, expires_at) VALUES (?, ?, ?)",
                (code_digest(code), now, now + SETUP_CODE_TTL_S),
            )
        return code

    def check(self, code: str) -> None:
        """Raises :class:`SetupRefused` unless ``code`` sets the site up now."""
        if not self.needed():
            raise SetupRefused(409, "set_up_already", "this site has a staff account already")
        row = self._conn.execute(
            "SELECT 1 FROM setup_codes WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
            (code_digest(code), self._clock.wall()),
        ).fetchone()
        if row is None:
            raise SetupRefused(403, "wrong_setup_code", "the setup code is wrong, used or expired")

    def redeem(self, code: str, username: str, password_hash: str) -> Account:
        """Burn ``code`` and make the first staff account, in one transaction (no await: of two
        racing set-ups one wins, the other finds the code used). Raises :class:`SetupRefused`
        with nothing changed."""
        self.check(code)
        now = self._clock.wall()
        try:
            with self._audit.transaction():
                burnt = self._conn.execute(
                    "UPDATE setup_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL"
                    " AND expires_at > ?",
                    (now, code_digest(code), now),
                ).rowcount
                if not burnt:
                    raise SetupRefused(403, "wrong_setup_code", "the setup code was used already")
                account = self._accounts.create(username, SiteRole.STAFF, password_hash, by=SETUP)
                self._audit.append(
                    AuditEvent.SITE_ACCOUNT_CREATED,
                    actor=SETUP,
                    details={"account": account.id, "username": username, "role": "staff"},
                )
        except AccountError as err:
            raise SetupRefused(422, "bad_username", str(err)) from None
        return account


def announce(code: str, url: str, config: str, out: TextIO | None = None) -> None:
    """Show the setup code once on the console (never in the log), with where it is typed."""
    out = out or sys.stderr
    lines = [
        "No staff account yet. One-time setup code:",
        f"    {code}",
        "It is shown only this once and expires in 7 days. Open the site's page",
        f"    {url}/  (or its address behind the relay host's proxy)",
        "and make the office's account with it. A new code: camera-site new-setup-code "
        f"--config {config}",
    ]
    rule = "─" * 62
    out.write("\n  ┌" + rule + "\n" + "".join(f"  │  {line}\n" for line in lines))
    out.write("  └" + rule + "\n\n")
    out.flush()
