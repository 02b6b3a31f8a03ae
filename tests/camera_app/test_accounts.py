"""First run: no default password, a one-time setup code, argon2 hashes."""

from __future__ import annotations

import io
import re
import sqlite3
import time
from pathlib import Path

import pytest

from camera_app.accounts import (
    SETUP_CODE_TTL_S,
    SetupError,
    create_owner,
    ensure_setup_code,
    has_owner,
    verify_password,
)
from camera_app.cli import main
from firmware.db import open_database
from privacy.audit import verify
from testkit.clock import FakeClock

CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    return open_database(tmp_path / "camera.db")


def _issue(conn: sqlite3.Connection, clock: FakeClock) -> str:
    out = io.StringIO()
    assert ensure_setup_code(conn, clock, out)
    match = CODE.search(out.getvalue())
    assert match, out.getvalue()
    return match.group(0)


def test_code_is_shown_once_and_only_its_hash_is_stored(conn: sqlite3.Connection) -> None:
    clock = FakeClock(time.time())
    code = _issue(conn, clock)
    out = io.StringIO()
    assert not ensure_setup_code(conn, clock, out)  # second start: not shown again
    assert out.getvalue() == ""
    stored = conn.execute("SELECT code_hash FROM setup_codes").fetchall()
    assert len(stored) == 1
    assert stored[0][0].startswith("$argon2id$") and code.replace("-", "") not in stored[0][0]


def test_owner_setup_with_the_code(conn: sqlite3.Connection) -> None:
    clock = FakeClock(time.time())
    code = _issue(conn, clock)
    create_owner(conn, clock, code.lower(), "alice", "correct horse battery")
    assert has_owner(conn)
    hashed = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert hashed.startswith("$argon2id$")
    assert verify_password(conn, "alice", "correct horse battery")
    (entry,) = conn.execute("SELECT event, actor, details FROM audit").fetchall()
    assert tuple(entry) == ("setup", "alice", '{"role":"owner"}')
    assert verify(conn).ok
    assert not verify_password(conn, "alice", "wrong password!!")
    assert not verify_password(conn, "mallory", "correct horse battery")
    # the code is burned and no second owner can be made
    with pytest.raises(SetupError, match="already exists"):
        create_owner(conn, clock, code, "bob", "another good passphrase")
    assert not ensure_setup_code(conn, clock, io.StringIO())


@pytest.mark.parametrize(
    ("code", "password", "reason"),
    [
        ("AAAA-BBBB-CCCC", "correct horse battery", "wrong, used or expired"),
        (None, "short", "at least 10"),
        (None, "aaaaaaaaaaaa", "too easy"),
        (None, "alicealice", "too easy"),
    ],
)
def test_refusals_change_nothing(
    conn: sqlite3.Connection, code: str | None, password: str, reason: str
) -> None:
    clock = FakeClock(time.time())
    real = _issue(conn, clock)
    with pytest.raises(SetupError, match=reason):
        create_owner(conn, clock, code or real, "alicealice", password)
    assert not has_owner(conn)
    assert conn.execute("SELECT used_at FROM setup_codes").fetchone()[0] is None


def test_expired_code_is_refused_and_a_new_one_is_issued(conn: sqlite3.Connection) -> None:
    clock = FakeClock(time.time())
    code = _issue(conn, clock)
    clock.advance(SETUP_CODE_TTL_S + 1)
    with pytest.raises(SetupError, match="expired"):
        create_owner(conn, clock, code, "alice", "correct horse battery")
    new = _issue(conn, clock)
    assert new != code
    create_owner(conn, clock, new, "alice", "correct horse battery")


def test_cli_owner_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    data = tmp_path / "data"
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  data_dir: {data}\n")
    conn = open_database(data / "camera.db")
    code = _issue(conn, FakeClock(time.time()))
    conn.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    args = ["owner", "setup", "--config", str(config), "--code", code, "--password-stdin"]
    assert main(args) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
