"""Starting ``camera-app run`` as a newcomer does: a port that is taken ends the start with the
reason and a non-zero exit code; ``--port``/``--host`` choose where the API listens; and the setup
banner prints a command that works as printed and the web address of the browser set-up."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from firmware.errors import ExitCode
from testkit.api import Client
from testkit.net import free_port, wait_until
from testkit.service import camera_app_cmd, stop_service

pytestmark = pytest.mark.slow

PASSWORD = "a long test password"


def _env() -> dict[str, str]:
    # as a person starts it from a shell (no systemd unit, no launcher), GPIO faked
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    for name in ("INVOCATION_ID", "CAMERA_APP_LAUNCHER"):
        env.pop(name, None)
    return env


def _config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "camera.yaml"
    data = {
        "camera": {"id": "cam1"},
        "capture": {"width": 320, "height": 240, "fps": 5},
        "storage": {"data_dir": str(tmp_path / "data"), "min_free_mb": 0},
        "api": {"host": "127.0.0.1", "port": port, "tls": False},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_busy_port_ends_the_start_with_the_reason_and_exit_code(tmp_path: Path) -> None:
    config = _config(tmp_path, 0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*camera_app_cmd(), "run", "--config", str(config), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
    assert result.returncode == ExitCode.RUNTIME, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
    assert "--port N" in result.stderr
    # it failed before opening the camera or showing a setup code nobody could use
    assert "monitoring camera" not in result.stderr and "setup code" not in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: the owner API")


def test_port_and_host_options_and_the_setup_banner_s_command_works(tmp_path: Path) -> None:
    config = _config(tmp_path, 1)  # a port it may not use: --port overrides it
    port = free_port()
    relative = os.path.relpath(config, tmp_path)
    options = ["--source", "test:", "--port", str(port), "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*camera_app_cmd(), "run", "--config", relative, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    client = Client(f"http://127.0.0.1:{port}")

    def answers() -> bool:
        try:
            return client.get("/api/health").status == 200
        except OSError:
            return False

    try:
        assert wait_until(answers, timeout=90), "the API did not answer on --port"
    finally:
        log = stop_service(proc)
    assert proc.returncode == 0, log
    assert f"owner API listening on http://127.0.0.1:{port}" in log
    assert f"http://127.0.0.1:{port}/" in log.split("Create the owner account in a browser at:")[1]
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", log)
    assert code, log
    command = log.split("or on this device with:\n")[1].splitlines()[0].split("│", 1)[1].strip()
    words = shlex.split(command)
    program = camera_app_cmd()
    assert words == [*program, "owner", "setup", "--config", str(config.resolve())]
    assert Path(words[0]).is_absolute()
    # the printed command, as printed, from another directory, creates the owner
    made = subprocess.run(
        [*words, "--code", code.group(0), "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd="/",
    )
    assert made.returncode == 0, made.stderr
    assert "owner account 'owner' created" in made.stdout


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--port", "70000"], "--port: Input should be less than or equal to 65535"),
        (["--port", "-1"], "--port: Input should be greater than or equal to 0"),
        (["--host", "0.0.0.0"], "--host: tls may be false only when host is a loopback"),
        (["--port", "eighty"], "argument --port: invalid int value"),
    ],
)
def test_bad_port_or_host_options_are_refused(
    tmp_path: Path, args: list[str], problem: str
) -> None:
    config = _config(tmp_path, 0)
    result = subprocess.run(
        [*camera_app_cmd(), "run", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert result.returncode in (ExitCode.USAGE, ExitCode.CONFIG), result.stderr
    assert problem in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made
