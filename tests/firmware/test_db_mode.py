"""The database and its WAL files are the service user's alone, whatever the umask (issue 15,
finding 13): ``camera.db`` holds accounts, sessions, registrations and the audit log."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.db import open_database
from firmware.paths import StoragePaths


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The umask of a login shell outside systemd (files 0644, folders 0755)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_wal_files_are_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "camera.db"
    conn = open_database(path)
    try:
        conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")  # WAL in use
        files = [path, path.with_name("camera.db-wal"), path.with_name("camera.db-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        conn.close()


def test_an_existing_readable_database_is_closed_to_others(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "camera.db"
    open_database(path).close()
    for name in ("camera.db", "camera.db-wal", "camera.db-shm"):
        if (tmp_path / name).exists():
            (tmp_path / name).chmod(0o644)  # as an earlier release left it
    conn = open_database(path)
    try:
        conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')")
        for name in ("camera.db", "camera.db-wal", "camera.db-shm"):
            assert _mode(tmp_path / name) == 0o600, name
    finally:
        conn.close()


def test_the_data_directory_is_closed_to_others(tmp_path: Path, open_umask: None) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o755)  # made by hand before the first start
    paths = StoragePaths(root)
    paths.create()
    assert _mode(root) & 0o007 == 0  # clips, snapshots and notices are inside
    assert _mode(paths.secrets) == 0o700
