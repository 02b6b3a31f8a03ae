"""Numbered schema migrations: an old device database reaches the latest schema with every row,
a new one gets the same schema, and a refused or failed migration leaves the file as it was."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import firmware.migrations
from camera_app.accounts import verify_password
from camera_app.monitor.store import EventStore
from camera_app.mqtt.outbox import Outbox
from firmware.clock import SystemClock
from firmware.db import (
    SCHEMA_VERSION,
    DatabaseError,
    Migration,
    load_migrations,
    lower_schema_version,
    open_database,
    schema_version,
)
from privacy.audit import AuditLog, verify
from privacy.gates.store import GateStore
from privacy.gates.viewers import ViewerStore
from privacy.registration import RegistrationStore
from privacy.secrets import FieldCipher
from testkit.paths import TEST_DATA

FIXTURE = TEST_DATA / "camera-v1.db"  # see tests/data/README.md
FIXTURE_KEY = bytes(range(32))  # the FieldCipher key the fixture's registration was sealed with
MIGRATIONS_DIR = Path(firmware.migrations.__file__).parent


def _raw(path: Path) -> sqlite3.Connection:
    """A plain connection that runs no migration."""
    return sqlite3.connect(path, isolation_level=None)


def _version(path: Path) -> int:
    conn = _raw(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def _schema(path: Path) -> set[tuple[str, str, str, str | None]]:
    """Every table, index and trigger with its SQL (rootpage left out: it depends on history)."""
    conn = _raw(path)
    try:
        return {
            tuple(row)
            for row in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")
        }
    finally:
        conn.close()


def _contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in rowid order."""
    conn = _raw(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    """A copy of the database made by the code before numbered migrations (user_version 1)."""
    path = tmp_path / "data" / "camera.db"
    path.parent.mkdir()
    shutil.copyfile(FIXTURE, path)
    return path


@pytest.fixture
def new_db(tmp_path: Path) -> Path:
    path = tmp_path / "fresh" / "camera.db"
    open_database(path).close()
    return path


def _assert_kept(before: dict, after: dict) -> None:
    """Every table of the old database keeps every row, unchanged; tables that later
    migrations add start empty."""
    assert {table: after.get(table) for table in before} == before
    assert all(not rows for table, rows in after.items() if table not in before)


def test_old_database_reaches_the_latest_version_with_every_row(old_db: Path) -> None:
    before = _contents(old_db)
    assert _version(old_db) == 1
    assert {t for t, rows in before.items() if not rows} == set()  # the fixture fills every table

    conn = open_database(old_db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    _assert_kept(before, _contents(old_db))


def test_stores_read_the_old_rows(old_db: Path) -> None:
    conn = open_database(old_db)
    clock = SystemClock()
    try:
        event = EventStore(conn).get("ev1")
        assert event is not None
        assert (event.status, event.note, event.clip_bytes) == ("complete", "front door", 99999)
        audit = verify(conn)
        assert audit.ok and audit.records == 2, audit.problems
        log = AuditLog(conn, clock)  # appends to the old chain
        assert verify_password(conn, "owner", "correct horse battery staple 42")
        assert not verify_password(conn, "owner", "correct horse battery staple 43")

        registrations = RegistrationStore(conn, FieldCipher(FIXTURE_KEY), clock, log)
        [owner] = registrations.active("owner")
        assert registrations.reveal_resident_id(owner.id) == "11010519491231002X"
        # no registration_details row (0005): what every registration was before, a PRC
        # resident ID from CN, without an organisation name
        assert (owner.document_type, owner.country, owner.organisation) == (
            "resident_id",
            "CN",
            None,
        )

        gates = GateStore(conn, clock, log)
        opt_in = gates.current_opt_in("cam1")
        notice = gates.current_notice("cam1")
        assert opt_in is not None and opt_in.profile == "home"
        assert notice is not None and notice.id == "n1"
        assert [c.guardians for c in gates.consents("cam1")] == [25]

        viewers = ViewerStore(conn, clock, log)
        grandma = viewers.by_username("grandma")
        assert grandma is not None and grandma.cameras == ("cam1",)
        assert [link.label for link in viewers.public_links("cam1")] == ["shop window"]

        outbox = Outbox(conn, 100)
        [pending] = outbox.pending()
        assert (pending.topic, pending.payload) == ("camera/dev1/event", b'{"id": "ev1"}')
        # AUTOINCREMENT kept its counter (sqlite_sequence) through the migration
        assert outbox.add("camera/dev1/event", b"{}", 0.0) == pending.seq + 1
        # the migrated database takes new records, and the old chain continues unbroken
        gates.opt_out("cam1", "owner")
        assert verify(conn).ok and verify(conn).records == 3
    finally:
        conn.close()


def test_new_and_migrated_databases_have_the_same_schema(old_db: Path, new_db: Path) -> None:
    open_database(old_db).close()
    migrated, fresh = _schema(old_db), _schema(new_db)
    assert migrated == fresh
    names = {name for kind, name, _, _ in fresh if kind in ("table", "trigger")}
    assert {"events", "audit", "mqtt_outbox", "viewers", "audit_no_update"} <= names


def test_opening_again_is_idempotent(new_db: Path, caplog: pytest.LogCaptureFixture) -> None:
    schema = _schema(new_db)
    with caplog.at_level(logging.INFO, logger="firmware.db"):
        open_database(new_db).close()
        open_database(new_db).close()
    assert caplog.records == []  # nothing left to apply
    assert _version(new_db) == SCHEMA_VERSION
    assert _schema(new_db) == schema


def test_each_applied_migration_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="firmware.db"):
        open_database(tmp_path / "camera.db").close()
    applied = [m.name for m in load_migrations()]
    assert [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records] == applied


def test_newer_database_is_refused_and_left_unchanged(new_db: Path) -> None:
    raw = _raw(new_db)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    before = new_db.read_bytes()

    expected = f"has schema version {SCHEMA_VERSION + 1}; this app knows {SCHEMA_VERSION}"
    with pytest.raises(DatabaseError, match=re.escape(expected)):
        open_database(new_db)
    assert new_db.read_bytes() == before
    assert _version(new_db) == SCHEMA_VERSION + 1


def _with_next(sql: str) -> list[Migration]:
    """The packaged migrations plus one more, as if a later release added it."""
    return [*load_migrations(), Migration(SCHEMA_VERSION + 1, "9999_next.sql", sql)]


def test_an_added_migration_is_applied(new_db: Path) -> None:
    # The positive control for the rollback test below; ";" in a string or comment is no split.
    sql = "CREATE TABLE extra (x TEXT); -- a comment; with a semicolon\n"
    sql += "INSERT INTO extra VALUES ('a;b');\nINSERT INTO extra VALUES ('c')"
    conn = open_database(new_db, _with_next(sql))
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert [r[0] for r in conn.execute("SELECT x FROM extra")] == ["a;b", "c"]
    finally:
        conn.close()


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "up-to-date"])
def test_failed_migration_rolls_back(tmp_path: Path, fresh: bool) -> None:
    path = tmp_path / "camera.db"
    if not fresh:
        open_database(path).close()
    broken = "CREATE TABLE half_made (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"

    with pytest.raises(DatabaseError, match=r"migration 9999_next\.sql failed.*no_such_table"):
        open_database(path, _with_next(broken))
    # The packaged migrations before it are committed; the broken one left no trace.
    assert _version(path) == SCHEMA_VERSION
    assert "half_made" not in {name for _, name, _, _ in _schema(path)}
    conn = open_database(path)  # and the database still opens
    conn.close()


def test_failed_migration_of_the_old_database_keeps_it_at_the_last_good_step(
    old_db: Path,
) -> None:
    before = _contents(old_db)
    migrations = [*load_migrations(), Migration(SCHEMA_VERSION + 1, "9999_next.sql", "BOGUS")]
    with pytest.raises(DatabaseError, match=r"9999_next\.sql"):
        open_database(old_db, migrations)
    assert _version(old_db) == SCHEMA_VERSION
    _assert_kept(before, _contents(old_db))


def test_migration_files_are_numbered_without_gaps() -> None:
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert files, MIGRATIONS_DIR
    for name in files:
        assert re.fullmatch(r"\d{4}_[a-z0-9_]+\.sql", name), name
    assert [int(name[:4]) for name in files] == list(range(1, len(files) + 1))
    assert [m.name for m in load_migrations()] == files
    assert len(files) == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["0001_a.sql", "0003_c.sql"], r"without gaps, found \[1, 3\]"),
        (["0001_a.sql", "0001_b.sql"], r"without gaps, found \[1, 1\]"),
        (["0002_b.sql"], r"without gaps, found \[2\]"),
        (["0001_a.sql", "2_b.sql"], r"2_b\.sql is not named"),
        ([], r"without gaps, found \[\]"),
    ],
)
def test_loader_refuses_badly_numbered_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: list[str], message: str
) -> None:
    package = f"migrations_{tmp_path.name}"  # a new package per case: imports are cached
    folder = tmp_path / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name in files:
        (folder / name).write_text("SELECT 1;\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DatabaseError, match=message):
        load_migrations(package)


def test_every_migration_runs_again_after_a_rollback(new_db: Path) -> None:
    """An update that is rolled back marks the database with the older release's version
    (``lower_schema_version``); the next update applies the newer migrations again, on tables
    they already made. So every migration must be additive and run twice without harm."""
    open_database(new_db).close()
    before = _schema(new_db)
    for older in range(SCHEMA_VERSION):
        assert lower_schema_version(new_db, older)
        assert _version(new_db) == older
        open_database(new_db).close()  # re-applies older+1 .. SCHEMA_VERSION
        assert _version(new_db) == SCHEMA_VERSION
        assert _schema(new_db) == before
    assert not lower_schema_version(new_db, SCHEMA_VERSION)  # never raises a version
    assert schema_version(new_db.with_name("absent.db")) is None
