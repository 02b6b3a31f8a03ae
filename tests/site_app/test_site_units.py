"""The site's pieces without servers: its config, accounts and logins, which part of a grant
each device gets, and the ``camera-site`` command line."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import pytest
import yaml

from camera_app.sitelink.protocol import AuditHead, AuditRecordMessage, CameraAnnouncement
from firmware.errors import ExitCode
from privacy.audit import GENESIS_HASH, record_hash
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION
from site_app.accounts import AccountError, SiteAccounts, SiteRole, prepare_password
from site_app.audit import DeviceAuditTrails
from site_app.cli import main
from site_app.config import SiteConfigError, load_site_config
from site_app.db import open_site_database
from site_app.directory import DeviceState
from site_app.grants import ParentGrant, device_grant, device_grant_set, grant_on_devices
from testkit.clock import FakeClock
from testkit.site import EVERY_DAY

SCHEDULE = Schedule.model_validate(EVERY_DAY)


def _device(device_id: str, *rooms: str) -> DeviceState:
    cameras = tuple(
        CameraAnnouncement(id=f"{device_id}-{i}", name=room, room=room, profile="kindergarten")
        for i, room in enumerate(rooms)
    )
    return DeviceState(device_id, True, cameras)


def test_each_device_gets_the_part_of_a_grant_it_films() -> None:
    grant = ParentGrant("acct", ("Sunflower", "Moon"), SCHEDULE, 2e9, TERMS_VERSION)
    one = device_grant(grant, _device("kg1", "Sunflower", "Rainbow"))
    assert one is not None and one.rooms == ("Sunflower",)
    assert (one.schedule, one.expires_at, one.role) == (SCHEDULE, 2e9, "parent")
    assert device_grant(grant, _device("kg2", "Stars")) is None
    other = ParentGrant("other", ("Rainbow",), SCHEDULE, 2e9, TERMS_VERSION)
    unsigned = ParentGrant("new", ("Moon",), SCHEDULE, 2e9, None)  # terms not accepted yet
    held = device_grant_set([grant, other, unsigned], _device("kg3", "Moon"))
    assert [(g.account, g.rooms, g.terms) for g in held.grants] == [
        ("acct", ("Moon",), TERMS_VERSION)
    ]


def test_a_paused_room_is_left_out_of_what_each_device_is_sent() -> None:
    grant = ParentGrant("acct", ("Sunflower", "Moon"), SCHEDULE, 2e9, TERMS_VERSION)
    kg1 = _device("kg1", "Sunflower", "Rainbow")
    kg3 = _device("kg3", "Sunflower", "Moon")
    paused = frozenset({"Sunflower"})
    assert device_grant(grant, kg1, paused) is None  # its only room of the grant is paused
    narrowed = device_grant(grant, kg3, paused)
    assert narrowed is not None and narrowed.rooms == ("Moon",)  # the other room still goes
    states = grant_on_devices(grant, [kg1, kg3], paused)
    assert [(s.device, s.state) for s in states] == [("kg1", "paused"), ("kg3", "pending")]
    unsigned = ParentGrant("new", ("Sunflower",), SCHEDULE, 2e9, None)
    assert [s.state for s in grant_on_devices(unsigned, [kg1], paused)] == ["waiting_terms"]


def _config(tmp_path: Path, **extra: object) -> Path:
    data = {
        "data_dir": str(tmp_path / "data"),
        "broker": {"ca_file": "ca.crt", "cert_file": "site.crt", "key_file": "site.key"},
        **extra,
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_config_names_the_bad_key(tmp_path: Path) -> None:
    assert load_site_config(_config(tmp_path)).http.host == "127.0.0.1"
    with pytest.raises(SiteConfigError, match=r"http: .*only with TLS"):
        load_site_config(_config(tmp_path, http={"host": "0.0.0.0"}))
    with pytest.raises(SiteConfigError, match=r"broker\.prefix"):
        load_site_config(
            _config(
                tmp_path,
                broker={"ca_file": "a", "cert_file": "b", "key_file": "c", "prefix": "a/b"},
            )
        )
    with pytest.raises(SiteConfigError, match="cannot read"):
        load_site_config(tmp_path / "absent.yaml")


def test_logins_end_and_can_be_ended(tmp_path: Path) -> None:
    clock = FakeClock(1_800_000_000.0)
    conn = open_site_database(tmp_path)
    accounts = SiteAccounts(conn, clock, 3600)
    account = accounts.create("li", SiteRole.PARENT, prepare_password("li", "p4rent-pass!"), by="t")
    with pytest.raises(AccountError, match="exists already"):
        accounts.create("li", SiteRole.PARENT, "x", by="t")
    token, login = accounts.log_in(account)
    assert accounts.login(token) == login and login.expires_at == clock.wall() + 3600
    assert accounts.login("not-" + token) is None
    clock.advance(3601)
    assert accounts.login(token) is None
    token, login = accounts.log_in(account)
    assert accounts.log_out(token) == [login.ref]  # the devices revoke its tickets by this
    assert accounts.log_out(token) == [] and accounts.login(token) is None
    stored = conn.execute("SELECT token_hash FROM logins").fetchall()
    assert all(token not in row[0] for row in stored)  # only digests are kept
    assert token not in login.ref and login.ref not in token
    # a password change ends every other login that has not expired; disabling, all of them
    kept, _ = accounts.log_in(account)
    others = [accounts.log_in(account)[1].ref for _ in range(2)]
    stale, _ = accounts.log_in(account)  # expired by now: its tickets have too
    digest = hashlib.sha256(stale.encode()).hexdigest()
    conn.execute("UPDATE logins SET expires_at = ? WHERE token_hash = ?", (clock.wall(), digest))
    assert sorted(accounts.set_password(account.id, "new-hash", keep=kept)) == sorted(others)
    still = accounts.login(kept)
    assert still is not None
    assert accounts.disable(account.id) == [still.ref]
    # kept for the devices (after a restart too) for the longest life of a ticket, an hour
    lately = SiteAccounts(conn, clock, 3600).ended_lately()
    assert sorted(e.login for e in lately) == sorted([login.ref, *others, still.ref])
    assert {e.account for e in lately} == {account.id}
    clock.advance(3600)
    assert accounts.ended_lately() == []
    with pytest.raises(AccountError, match="at least"):
        prepare_password("wang", "short")


def test_add_account_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("office-pass-2026\n"))
    assert main(["add-account", "--config", str(config), "--username", "office"]) == 0
    assert "account office (staff) created" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("weak\n"))
    code = main(["add-account", "--config", str(config), "--username", "other"])
    assert code == ExitCode.USAGE and "at least" in capsys.readouterr().err
    conn = open_site_database(tmp_path / "data")
    assert [r[0] for r in conn.execute("SELECT username FROM accounts")] == ["office"]


def _chain(count: int) -> list[AuditRecordMessage]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        details = {"n": seq}
        digest = record_hash(seq, 1000.0 + seq, "owner", "armed", None, details, prev)
        records.append(
            AuditRecordMessage(
                seq=seq,
                at=1000.0 + seq,
                actor="owner",
                event="armed",
                camera_id=None,
                details=details,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    return records


def test_a_device_trail_is_kept_only_while_its_chain_holds(tmp_path: Path) -> None:
    trails = DeviceAuditTrails(open_site_database(tmp_path), FakeClock(1_800_000_000.0))
    records = _chain(5)
    head = AuditHead(seq=5, hash=records[-1].hash)
    assert trails.wants_after("kg1", head) == 0
    assert trails.take("kg1", tuple(records[:3])) == 3
    assert trails.wants_after("kg1", head) == 3
    # a record edited on the device: kept up to it, then the trail is broken and followed no more
    edited = records[3].model_copy(update={"actor": "someone else"})
    assert trails.take("kg1", (edited, records[4])) == 0
    state = trails.state("kg1")
    assert (state.seq, state.broken) == (3, "record 4 does not match its hash (edited)")
    assert trails.wants_after("kg1", head) is None and trails.take("kg1", tuple(records)) == 0
    # another device: a gap, a stale head, a log cut back and written again, another hash
    assert trails.take("kg2", (records[0], records[2])) == 1
    assert trails.state("kg2").broken == "record 3 follows 1: records are missing"
    assert trails.take("kg3", tuple(records[:3])) == 3
    # a retained head handed on again after the records it preceded: nothing to ask, not broken
    assert trails.wants_after("kg3", AuditHead(seq=1, hash=records[0].hash)) is None
    assert trails.state("kg3").broken is None
    # the log cut back to record 1 and a new record 2 written: its head names another hash
    assert trails.wants_after("kg3", AuditHead(seq=2, hash="1" * 64)) is None
    assert "seq 2 names another hash" in str(trails.state("kg3").broken)
    assert trails.take("kg4", tuple(records[:2])) == 2
    assert trails.wants_after("kg4", AuditHead(seq=2, hash="0" * 64)) is None
    assert "another hash" in str(trails.state("kg4").broken)
