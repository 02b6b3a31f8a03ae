"""The site's SQLite database: firmware's opener (WAL, 0600, numbered migrations) with the
site's own migrations (``site_app/migrations``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from firmware.db import load_migrations, open_database

DATABASE = "site.db"


def open_site_database(data_dir: Path) -> sqlite3.Connection:
    """Open (creating ``data_dir``, 0700, and the database, 0600) and migrate."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return open_database(data_dir / DATABASE, load_migrations("site_app.migrations"))
