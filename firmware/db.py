"""Opens the device's SQLite database (WAL) and brings its schema up to date.

The schema is the numbered SQL files in ``firmware.migrations`` (``0001_initial.sql``, ...).
``PRAGMA user_version`` holds the number of the last migration applied; opening the database
applies the newer ones in order, each in its own transaction (see docs/database.md).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from firmware.errors import AppError
from firmware.shared_conn import SharedConnection

log = logging.getLogger(__name__)

_MIGRATION_FILE = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class DatabaseError(AppError, RuntimeError):
    """The database cannot be opened, a migration failed, or it is from a newer version."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: the SQL of ``name`` takes the database to user_version ``version``."""

    version: int
    name: str
    sql: str


@cache
def load_migrations(package: str = "firmware.migrations") -> tuple[Migration, ...]:
    """The migrations in ``package``, oldest first; they must be numbered 1..N without gaps.

    Read through ``importlib.resources`` so that they are found in an installed wheel as well.
    """
    found: list[Migration] = []
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match is None:
            raise DatabaseError(f"migration file {entry.name} is not named NNNN_<name>.sql")
        found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    numbers = [m.version for m in found]
    if not found or numbers != list(range(1, len(found) + 1)):
        raise DatabaseError(
            f"migrations in {package} must be numbered 1..N without gaps, found {numbers}"
        )
    return tuple(found)


# The schema version this app knows is the highest migration number, never a hand-kept constant.
SCHEMA_VERSION = load_migrations()[-1].version


def _statements(script: str) -> Iterator[str]:
    """Split a migration into single statements for ``execute``.

    ``executescript`` cannot be used: it commits any open transaction first, so a migration and
    its version bump would not be atomic. ``sqlite3.complete_statement`` knows about strings,
    comments and trigger bodies, so a ``;`` inside them does not end a statement.
    """
    pieces = script.split(";")
    statement = ""
    for i, piece in enumerate(pieces):
        statement += piece if i == len(pieces) - 1 else piece + ";"
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement  # a last statement without ";" (or only a trailing comment)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _apply(conn: sqlite3.Connection, path: Path, migration: Migration) -> None:
    """Run one migration and its user_version bump in one transaction; undo both on any error."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        # Another process may have applied it while this one waited for the write lock.
        applied = _user_version(conn) < migration.version
        if applied:
            for statement in _statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={migration.version}")
        conn.execute("COMMIT")
    except sqlite3.Error as err:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise DatabaseError(f"migration {migration.name} failed on {path}: {err}") from None
    if applied:
        log.info("database %s: applied migration %s", path, migration.name)


#: The database holds accounts, sessions, registrations and the audit log: the service user's alone.
#: SQLite gives its -wal and -shm files the database file's mode, so they follow.
DATABASE_MODE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")


def _make_private(path: Path) -> None:
    """Create the database file 0600 if it is missing (whatever the umask), and take group and
    other permissions off an existing one and its companions (an earlier release made them
    with the umask: 0644 outside systemd)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, DATABASE_MODE)
    except FileExistsError:
        pass
    except OSError as err:
        raise DatabaseError(f"cannot create database {path}: {err.strerror}") from None
    else:
        os.close(fd)
    for file in (path, *(path.with_name(path.name + end) for end in _COMPANIONS)):
        try:
            info = file.lstat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISREG(info.st_mode) and mode & 0o077 and info.st_uid == os.geteuid():
            file.chmod(mode & ~0o077)
            log.info("database file %s: permissions %o -> %o", file, mode, mode & ~0o077)


def open_database(path: Path, migrations: Sequence[Migration] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode and apply the pending migrations.

    ``synchronous=FULL`` because writes are rare (one per event) and the index must survive a power
    cut as well as the fragmented clips do. ``migrations`` (oldest first) replaces the packaged
    ones, so that tests can inject a broken one. The file and its WAL files are 0600. The
    connection may be shared by threads (:class:`SharedConnection` takes them one at a time).
    """
    migrations = load_migrations() if migrations is None else migrations
    known = max((m.version for m in migrations), default=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    _make_private(path)
    try:
        conn = sqlite3.connect(
            path,
            timeout=10,
            isolation_level=None,
            check_same_thread=False,
            factory=SharedConnection,
        )
    except sqlite3.DatabaseError as err:
        raise DatabaseError(f"cannot open database {path}: {err}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = _user_version(conn)
        if version > known:
            raise DatabaseError(f"{path} has schema version {version}; this app knows {known}")
        for migration in migrations:
            if migration.version > version:
                _apply(conn, path, migration)
    except sqlite3.DatabaseError as err:
        conn.close()
        raise DatabaseError(f"cannot open database {path}: {err}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(path: Path) -> int | None:
    """The ``user_version`` of the database at ``path`` without migrating it; None if absent."""
    if not path.exists():
        return None
    conn = sqlite3.connect(path, timeout=10)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def lower_schema_version(path: Path, version: int) -> bool:
    """Mark the database as being at ``version`` (only ever lower), without touching its tables.

    For an update that is rolled back: the older release refuses a database with a newer
    ``user_version``. Migrations are additive and can run again (see docs/database.md), so the
    older release works on the newer tables, and the next update re-applies what it needs.
    """
    current = schema_version(path)
    if current is None or current <= version:
        return False
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        conn.execute(f"PRAGMA user_version={int(version)}")
    finally:
        conn.close()
    log.warning(
        "database %s marked as schema %d (was %d) for an older release", path, version, current
    )
    return True


def get_setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
