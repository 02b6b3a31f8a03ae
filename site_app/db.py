"""The site's SQLite database: firmware's opener (WAL, 0600, numbered migrations) with the
site's own migrations (``site_app/migrations``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TextIO

from firmware.db import load_migrations, open_database
from privacy.audit import VerifyResult, export_file, verify_file

DATABASE = "site.db"


def open_site_database(data_dir: Path) -> sqlite3.Connection:
    """Open (creating ``data_dir``, 0700, and the database, 0600) and migrate."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return open_database(data_dir / DATABASE, load_migrations("site_app.migrations"))


def verify_site_log(data_dir: Path) -> VerifyResult:
    """Check the site's own audit log (on a read-only connection of its own: the server runs
    this off its event loop)."""
    return verify_file(data_dir / DATABASE)


def export_site_log(data_dir: Path, out: TextIO) -> int:
    """Write the site's own audit log, oldest first, as JSON Lines (the device's ``camera-app
    audit export`` format: every record as stored, with its hashes, so a copy kept elsewhere
    proves later what the log said), on a read-only connection of its own like
    :func:`verify_site_log`; returns the number of records."""
    return export_file(data_dir / DATABASE, out)
