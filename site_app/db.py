"""The site's SQLite database: firmware's opener (WAL, 0600, numbered migrations) with the
site's own migrations (``site_app/migrations``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TextIO

from firmware.db import load_migrations, open_database
from privacy.audit import VerifyResult, export, verify

DATABASE = "site.db"


def open_site_database(data_dir: Path) -> sqlite3.Connection:
    """Open (creating ``data_dir``, 0700, and the database, 0600) and migrate."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return open_database(data_dir / DATABASE, load_migrations("site_app.migrations"))


def _read_only(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data_dir / DATABASE}?mode=ro", uri=True, timeout=10)


def verify_site_log(data_dir: Path) -> VerifyResult:
    """Check the site's own audit log on a read-only connection of its own: the whole chain is
    recomputed (seconds for a year of records), so the server runs this off its event loop
    (``asyncio.to_thread``) without touching the loop's connection."""
    conn = _read_only(data_dir)
    try:
        return verify(conn)
    finally:
        conn.close()


def export_site_log(data_dir: Path, out: TextIO) -> int:
    """Write the site's own audit log, oldest first, as JSON Lines (the device's ``camera-app
    audit export`` format: every record as stored, with its hashes, so a copy kept elsewhere
    proves later what the log said), on a read-only connection of its own like
    :func:`verify_site_log`; returns the number of records."""
    conn = _read_only(data_dir)
    try:
        return export(conn, out)
    finally:
        conn.close()
