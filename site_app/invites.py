"""Parent invites: staff hand a family a single-use code instead of a password they chose.

An invite carries the grant the parent will hold (rooms, weekly schedule, end date) and, when a
class list named one, the username. The parent exchanges the code for an account of their own
(:meth:`InviteStore.redeem`: their username and password, the viewing terms accepted), and
becomes a parent with that grant in the same transaction; the grant then goes to the devices as
any other. Only the SHA-256 of a code is stored: a code is 80 random bits, so a hash that is
quick to check is enough (nobody can try 2^80 codes, on the site or against a stolen database),
and staff cannot read a code back after it was shown once. A code works once, until it expires
(``invites.valid_days``), unless staff withdraw it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import Field

from firmware.clock import Clock
from firmware.configbase import StrictModel
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.schedule import Schedule
from site_app.accounts import Account, AccountError, SiteAccounts, SiteRole
from site_app.grants import SiteGrantStore

# Crockford's base32: no I, L, O or U, so a code typed from a card is not misread
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_CHARS = 16  # 80 bits
_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class SiteInvitesConfig(StrictModel):
    valid_days: float = Field(
        default=14,
        gt=0,
        le=90,
        description="An invite code can be used for this many days after it was made (once).",
    )


class InviteState(StrEnum):
    PENDING = "pending"
    USED = "used"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class InviteRefused(Exception):
    """The code cannot be used (or the account not made): ``code`` and ``status`` for the API."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


# why a code is refused, by its state (a code never made is invite_unknown)
_REFUSALS = {
    InviteState.USED: (410, "invite_used", "this invite was used already"),
    InviteState.EXPIRED: (410, "invite_expired", "this invite has expired; ask for a new one"),
    InviteState.WITHDRAWN: (410, "invite_withdrawn", "this invite was withdrawn"),
}


@dataclass(frozen=True, slots=True)
class InviteSpec:
    """What an invite carries: the grant, and for the card a label and a language."""

    rooms: tuple[str, ...]
    schedule: Schedule
    grant_expires_at: float
    username: str | None = None
    label: str | None = None
    lang: Literal["en", "zh"] = "en"


@dataclass(frozen=True, slots=True)
class Invite:
    id: str
    spec: InviteSpec
    created_at: float
    created_by: str
    batch: str | None
    expires_at: float
    state: InviteState

    def to_json(self) -> dict[str, object]:
        spec = self.spec
        return {
            "id": self.id,
            "username": spec.username,
            "family": spec.label,
            "language": "zh-CN" if spec.lang == "zh" else "en",
            "rooms": list(spec.rooms),
            "schedule": spec.schedule.model_dump(),
            "grant_expires_at": spec.grant_expires_at,
            "created_at": self.created_at,
            "batch": self.batch,
            "expires_at": self.expires_at,
            "state": self.state,
        }


def new_code() -> str:
    """A fresh code, ``XXXX-XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_CHARS, 4))


def normal_code(code: str) -> str:
    """A code as typed (any case, spaces or dashes, O for 0, I or L for 1) in its stored form."""
    kept = "".join(ch for ch in code.upper() if ch not in " -\t")
    return kept.translate(_TYPOS)


def code_digest(code: str) -> str:
    """What the site keeps of a code (invites' and reset links'): the SHA-256 of its normal form."""
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


_COLUMNS = (
    "id, username, label, lang, rooms, schedule, grant_expires_at, created_at, created_by,"
    " batch, expires_at, used_at, withdrawn_at"
)


class InviteStore:
    """Invites in the site's database (its one connection, on the site's loop). Every change is
    written to the site's audit log in its transaction (never a code, nor a family's label)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        clock: Clock,
        accounts: SiteAccounts,
        grants: SiteGrantStore,
        audit: AuditLog,
        config: SiteInvitesConfig,
    ) -> None:
        self._conn = conn
        self._clock = clock
        self._accounts = accounts
        self._grants = grants
        self._audit = audit
        self.valid_s = config.valid_days * 86400

    def create_many(
        self,
        specs: Sequence[InviteSpec],
        *,
        by: Account,
        imported: Mapping[str, object] | None = None,
    ) -> list[tuple[Invite, str]]:
        """Make an invite per spec, all in one transaction; each with its code (shown once).
        ``imported``: the class list's facts for the import's own record (its ``batch``)."""
        made = []
        now = self._clock.wall()
        batch = uuid.uuid4().hex if imported is not None else None
        with self._audit.transaction():
            for spec in specs:
                code, invite_id = new_code(), uuid.uuid4().hex
                self._conn.execute(
                    f"INSERT INTO invites ({_COLUMNS}, code_hash)"  # noqa: S608 - constant columns
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
                    (
                        invite_id,
                        spec.username,
                        spec.label,
                        spec.lang,
                        json.dumps(sorted(set(spec.rooms)), ensure_ascii=False),
                        spec.schedule.model_dump_json(),
                        spec.grant_expires_at,
                        now,
                        by.id,
                        batch,
                        now + self.valid_s,
                        code_digest(code),
                    ),
                )
                made.append((invite_id, code))
                self._audit.append(
                    AuditEvent.SITE_INVITE_CREATED,
                    actor=by.username,
                    details={"invite": invite_id, "batch": batch, **_grant_details(spec)},
                )
            if imported is not None:
                self._audit.append(
                    AuditEvent.SITE_INVITES_IMPORTED,
                    actor=by.username,
                    details={**imported, "batch": batch, "count": len(made)},
                )
        return [(self._get(invite_id), code) for invite_id, code in made]

    def _get(self, invite_id: str) -> Invite:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM invites WHERE id = ?",  # noqa: S608 - constant columns
            (invite_id,),
        ).fetchone()
        return self._invite(row)

    def find(self, code: str) -> Invite | None:
        """The invite of ``code`` in whatever state it is, or None for a code never made."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM invites WHERE code_hash = ?",  # noqa: S608 - constant columns
            (code_digest(code),),
        ).fetchone()
        return self._invite(row) if row else None

    def usable(self, code: str) -> Invite:
        """The pending invite of ``code``; raises :class:`InviteRefused` saying why not."""
        invite = self.find(code)
        if invite is None:
            raise InviteRefused(404, "invite_unknown", "no invite has this code; check it")
        if invite.state != InviteState.PENDING:
            raise InviteRefused(*_REFUSALS[invite.state])
        return invite

    def pending(self) -> list[Invite]:
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM invites WHERE used_at IS NULL AND withdrawn_at IS NULL"  # noqa: S608 - constant columns
            " AND expires_at > ? ORDER BY created_at, rowid",
            (self._clock.wall(),),
        ).fetchall()
        return [self._invite(r) for r in rows]

    def withdraw(self, invite_id: str, *, by: Account) -> bool:
        """Withdraw a pending invite; False when there is none with this id."""
        now = self._clock.wall()
        with self._audit.transaction():
            if not self._conn.execute(
                "UPDATE invites SET withdrawn_at = ?, withdrawn_by = ? WHERE id = ?"
                " AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > ?",
                (now, by.id, invite_id, now),
            ).rowcount:
                return False
            self._audit.append(
                AuditEvent.SITE_INVITE_WITHDRAWN, actor=by.username, details={"invite": invite_id}
            )
        return True

    def username_taken(self, username: str) -> bool:
        """An account has it, or a pending invite keeps it for its family."""
        return self._accounts.by_username(username) is not None or self._reserved(username)

    def redeem(self, code: str, username: str, password_hash: str, terms: str) -> Account:
        """Burn ``code`` and make its parent account with the invite's grant and the viewing
        terms of version ``terms`` accepted, in one transaction. Of two redemptions of one code
        exactly one makes an account: the other finds the code used (the UPDATE's WHERE clause
        is the check). Raises :class:`InviteRefused` with nothing changed."""
        invite = self.usable(code)
        now = self._clock.wall()
        try:
            with self._audit.transaction():
                burnt = self._conn.execute(
                    "UPDATE invites SET used_at = ? WHERE id = ? AND used_at IS NULL"
                    " AND withdrawn_at IS NULL AND expires_at > ?",
                    (now, invite.id, now),
                ).rowcount
                if not burnt:
                    raise InviteRefused(*_REFUSALS[InviteState.USED])
                if invite.spec.username is None and self._reserved(username):
                    raise AccountError(f"the account {username!r} exists already")
                account = self._accounts.create(
                    username, SiteRole.PARENT, password_hash, by=f"invite:{invite.id}"
                )
                self._conn.execute(
                    "UPDATE invites SET account_id = ? WHERE id = ?", (account.id, invite.id)
                )
                spec = invite.spec
                self._grants.put(
                    account.id,
                    list(spec.rooms),
                    spec.schedule,
                    spec.grant_expires_at,
                    by=f"invite:{invite.id}",
                )
                self._accounts.accept_terms(account.id, terms)
                self._audit.append(
                    AuditEvent.SITE_INVITE_REDEEMED,
                    actor=username,
                    details={
                        "invite": invite.id,
                        "account": account.id,
                        "username": username,
                        "terms": terms,
                        **_grant_details(spec),
                    },
                )
        except AccountError as err:
            raise InviteRefused(409, "username_taken", str(err)) from None
        return account

    def _reserved(self, username: str) -> bool:
        return (
            self._conn.execute(
                "SELECT 1 FROM invites WHERE username = ? AND used_at IS NULL"
                " AND withdrawn_at IS NULL AND expires_at > ?",
                (username, self._clock.wall()),
            ).fetchone()
            is not None
        )

    def _invite(self, row: sqlite3.Row) -> Invite:
        (invite_id, username, label, lang, rooms, schedule, until, created_at, by, batch) = row[:10]
        expires_at, used_at, withdrawn_at = row[10:13]
        if used_at is not None:
            state = InviteState.USED
        elif withdrawn_at is not None:
            state = InviteState.WITHDRAWN
        elif expires_at <= self._clock.wall():
            state = InviteState.EXPIRED
        else:
            state = InviteState.PENDING
        spec = InviteSpec(
            rooms=tuple(json.loads(rooms)),
            schedule=Schedule.model_validate_json(schedule),
            grant_expires_at=until,
            username=username,
            label=label,
            lang="zh" if lang == "zh" else "en",
        )
        return Invite(invite_id, spec, created_at, by, batch, expires_at, state)


def _grant_details(spec: InviteSpec) -> dict[str, object]:
    return {
        "rooms": sorted(set(spec.rooms)),
        "schedule": spec.schedule.model_dump(mode="json"),
        "expires_at": spec.grant_expires_at,
    }
