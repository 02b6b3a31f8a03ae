"""First run: no default password, a one-time setup code, argon2 hashes."""

from __future__ import annotations

import io
import re
import shlex
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from camera_app.accounts import (
    SETUP_CODE_TTL_S,
    SetupError,
    SetupHint,
    browser_address,
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
HINT = SetupHint.of(["/opt/camera-app/venv/bin/camera-app"], None, "http://127.0.0.1:8080")


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    return open_database(tmp_path / "camera.db")


def _issue(conn: sqlite3.Connection, clock: FakeClock) -> str:
    out = io.StringIO()
    assert ensure_setup_code(conn, clock, out, hint=HINT)
    match = CODE.search(out.getvalue())
    assert match, out.getvalue()
    return match.group(0)


def test_code_is_shown_once_and_only_its_hash_is_stored(conn: sqlite3.Connection) -> None:
    clock = FakeClock(time.time())
    code = _issue(conn, clock)
    out = io.StringIO()
    assert not ensure_setup_code(conn, clock, out, hint=HINT)  # second start: not shown again
    assert out.getvalue() == ""
    stored = conn.execute("SELECT code_hash FROM setup_codes").fetchall()
    assert len(stored) == 1
    assert stored[0][0].startswith("$argon2id$") and code.replace("-", "") not in stored[0][0]


def test_the_banner_names_a_command_that_works_and_the_browser_address(
    conn: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not "camera-app owner setup" (not on PATH, no --config): the launcher systemd runs, as
    the service user, with the absolute config path; and the web address of the set-up."""
    monkeypatch.chdir(tmp_path)
    hint = SetupHint.of(
        ["/opt/camera-app/bin/camera-app-launch"],
        Path("etc/camera app.yaml"),  # relative, with a space: made absolute, quoted
        "https://0.0.0.0:8443",
        run_as="camera-app",
    )
    out = io.StringIO()
    assert ensure_setup_code(conn, FakeClock(time.time()), out, hint=hint)
    text = out.getvalue()
    config = shlex.quote(str(tmp_path / "etc" / "camera app.yaml"))
    expected = (
        "runuser -u camera-app -- /opt/camera-app/bin/camera-app-launch owner setup "
        f"--config {config}"
    )
    assert f"│      {expected}\n" in text
    assert f"│      https://{socket.gethostname()}:8443/\n" in text  # not 0.0.0.0
    assert CODE.search(text) and "expires in 7 days" in text
    assert hint.command("owner", "new-code").endswith(f"owner new-code --config {config}")


def test_without_an_api_the_banner_names_only_the_command(conn: sqlite3.Connection) -> None:
    hint = SetupHint.of(["/usr/bin/python3", "-m", "camera_app.cli"], None, None)
    out = io.StringIO()
    assert ensure_setup_code(conn, FakeClock(time.time()), out, hint=hint)
    assert "browser" not in out.getvalue()
    assert "│      /usr/bin/python3 -m camera_app.cli owner setup\n" in out.getvalue()


def test_the_running_program_names_its_launcher_or_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    monkeypatch.setenv("CAMERA_APP_LAUNCHER", "/opt/camera-app/bin/camera-app-launch")
    assert SetupHint.of_this_process(None, None).program == (
        "/opt/camera-app/bin/camera-app-launch",
    )
    monkeypatch.delenv("CAMERA_APP_LAUNCHER")
    program = SetupHint.of_this_process(None, None).program
    assert Path(program[0]).is_absolute()  # pytest's own script, or this Python with -m
    monkeypatch.setenv("INVOCATION_ID", "0123")  # started by systemd: as its user
    assert SetupHint.of_this_process(None, None).program[:2] == ("runuser", "-u")


@pytest.mark.parametrize(
    ("listen", "browser"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
        ("https://0.0.0.0:8443", f"https://{socket.gethostname()}:8443"),
        ("https://[::]:8443", f"https://{socket.gethostname()}:8443"),
        ("https://camera.example:443", "https://camera.example:443"),
    ],
)
def test_browser_address(listen: str, browser: str) -> None:
    assert browser_address(listen) == browser


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
    assert not ensure_setup_code(conn, clock, io.StringIO(), hint=HINT)


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
