"""Opens the device's SQLite database (WAL) and applies the schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from firmware.errors import AppError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id              TEXT PRIMARY KEY,
    camera_id       TEXT NOT NULL,
    started_at      REAL NOT NULL,          -- unix time of the first motion frame
    ended_at        REAL,                   -- unix time of the last frame in the clip
    status          TEXT NOT NULL CHECK (status IN ('active', 'complete', 'interrupted')),
    end_reason      TEXT,
    peak_motion     REAL NOT NULL DEFAULT 0,
    clip_path       TEXT,                   -- relative to the data directory
    clip_frames     INTEGER,
    clip_duration_s REAL,
    clip_bytes      INTEGER NOT NULL DEFAULT 0,
    snapshot_path   TEXT,
    snapshot_bytes  INTEGER NOT NULL DEFAULT 0,
    note            TEXT
);
CREATE INDEX IF NOT EXISTS events_started ON events (started_at);

CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'family', 'parent', 'public')),
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (   -- device state that must survive a restart
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS setup_codes (
    id         INTEGER PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL
);
"""


class DatabaseError(AppError, RuntimeError):
    """The database cannot be opened or is from a newer version of the app."""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with the current schema.

    ``synchronous=FULL`` because writes are rare (one per event) and the index must survive a power
    cut as well as the fragmented clips do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise DatabaseError(
                f"{path} has schema version {version}; this app knows {SCHEMA_VERSION}"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except sqlite3.DatabaseError as err:
        raise DatabaseError(f"cannot open database {path}: {err}") from None
    return conn


def get_setting(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_setting(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
