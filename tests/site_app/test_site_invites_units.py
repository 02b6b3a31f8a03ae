"""Invites in the site's database, without servers: codes as typed from a card, a redemption
that cannot make its account changes nothing, usernames kept for their families, the config."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from privacy.audit import AuditLog, records_after, verify
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION
from site_app.accounts import Account, SiteAccounts, SiteRole
from site_app.db import open_site_database
from site_app.grants import SiteGrantStore
from site_app.invites import (
    InviteRefused,
    InviteSpec,
    InviteState,
    InviteStore,
    SiteInvitesConfig,
    new_code,
    normal_code,
)
from testkit.clock import FakeClock

SCHOOL_DAYS = Schedule.model_validate(
    {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"}]}
)
NOW = 1_800_000_000.0
STAFF = Account("staff-id", "office", SiteRole.STAFF)


@dataclass
class Site:
    invites: InviteStore
    accounts: SiteAccounts
    grants: SiteGrantStore
    audit: AuditLog
    audit_conn: sqlite3.Connection
    clock: FakeClock


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    conn = open_site_database(tmp_path)
    clock = FakeClock(NOW)
    accounts, grants, audit = (
        SiteAccounts(conn, clock, 3600),
        SiteGrantStore(conn, clock),
        AuditLog(conn, clock),
    )
    store = InviteStore(conn, clock, accounts, grants, audit, SiteInvitesConfig())
    try:
        yield Site(store, accounts, grants, audit, conn, clock)
    finally:
        conn.close()


def spec(username: str | None = None) -> InviteSpec:
    return InviteSpec(("Sunflower",), SCHOOL_DAYS, NOW + 86400 * 200, username=username)


def test_codes_are_long_random_and_typed_forgivingly() -> None:
    codes = {new_code() for _ in range(100)}
    assert len(codes) == 100
    assert all(re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){3}[0-9A-HJKMNP-TV-Z]{4}", c) for c in codes)
    assert normal_code(" abcd efgh-jkmn-pqrs ") == "ABCDEFGHJKMNPQRS"
    assert normal_code("O0IL-1") == "00111"  # O for 0, I and L for 1


def test_a_redemption_that_cannot_make_its_account_changes_nothing(site: Site) -> None:
    ((_, code),) = site.invites.create_many([spec()], by=STAFF)
    taken = site.accounts.create("li", SiteRole.PARENT, "x", by=STAFF.id)
    with pytest.raises(InviteRefused) as refused:
        site.invites.redeem(code, "li", "hash", TERMS_VERSION)
    assert refused.value.code == "username_taken"
    invite = site.invites.find(code)
    assert invite is not None and invite.state == InviteState.PENDING  # not burnt
    assert site.grants.all() == []
    account = site.invites.redeem(code, "li.hua", "hash", TERMS_VERSION)
    assert account.id != taken.id
    grant = site.grants.get(account.id)
    assert grant is not None and grant.rooms == ("Sunflower",) and grant.terms == TERMS_VERSION
    with pytest.raises(InviteRefused, match="used already"):
        site.invites.redeem(code, "li.hua2", "hash", TERMS_VERSION)
    # the site's audit log: the invite made, then redeemed (the refused attempt left nothing)
    records = records_after(site.audit_conn, 0)
    assert [(r.actor, r.event) for r in records] == [
        ("office", "site_invite_created"),
        ("li.hua", "site_invite_redeemed"),
    ]
    assert records[1].details["account"] == account.id
    assert records[1].details["rooms"] == ["Sunflower"] and records[1].details["terms"]
    assert code not in str([r.details for r in records])
    assert verify(site.audit_conn).ok


def test_a_username_an_invite_names_is_kept_for_its_family(site: Site) -> None:
    ((named, _), (_, other_code)) = site.invites.create_many([spec("wang"), spec()], by=STAFF)
    assert site.invites.username_taken("wang")
    with pytest.raises(InviteRefused) as refused:
        site.invites.redeem(other_code, "wang", "hash", TERMS_VERSION)
    assert refused.value.code == "username_taken"
    assert site.invites.withdraw(named.id, by=STAFF)
    assert not site.invites.withdraw(named.id, by=STAFF)  # once
    assert not site.invites.username_taken("wang")
    assert site.invites.redeem(other_code, "wang", "hash", TERMS_VERSION).username == "wang"


def test_an_invite_expires_after_valid_days(site: Site) -> None:
    ((invite, code),) = site.invites.create_many([spec()], by=STAFF)
    assert invite.expires_at == NOW + 14 * 86400
    site.clock.advance(14 * 86400)
    assert site.invites.pending() == []
    with pytest.raises(InviteRefused) as refused:
        site.invites.usable(code)
    assert (refused.value.status, refused.value.code) == (410, "invite_expired")
    assert not site.invites.withdraw(invite.id, by=STAFF)


@pytest.mark.parametrize("days", [0, -1, 91])
def test_the_validity_is_checked(days: float) -> None:
    with pytest.raises(ValidationError, match="valid_days"):
        SiteInvitesConfig.model_validate({"valid_days": days})
