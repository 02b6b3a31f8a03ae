"""The real ``camera-app`` entry point in a subprocess: ``camera-app run`` and its owner, for
end-to-end tests, and the command line of the installed console script for the CLI tests.

The only fake is the GPIO pin of the streaming LED: gpiozero's mock pin factory, selected with
``GPIOZERO_PIN_FACTORY=mock``, since test machines have no GPIO header.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from camera_app.accounts import issue_setup_code
from firmware.clock import SystemClock
from firmware.db import open_database
from testkit.api import Client, make_id
from testkit.net import wait_until

OWNER_PASSWORD = "a long test password"


def camera_app_cmd() -> list[str]:
    """The installed console script (so tests drive the real entry point)."""
    script = Path(sys.executable).parent / "camera-app"
    return [str(script)] if script.exists() else [sys.executable, "-m", "camera_app.cli"]


def start_service(
    config: Path, source: str | None, log: Path | None = None
) -> subprocess.Popen[str]:
    """Start ``camera-app run`` (``--source source``; None: the sources of the config). Its
    output is piped (read by :func:`stop_service`), or with ``log`` written to that file: a
    long run would fill a pipe that nobody reads, and stall."""
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    out = subprocess.PIPE if log is None else log.open("w")
    options = ["--source", source] if source is not None else []
    try:
        return subprocess.Popen(
            [*camera_app_cmd(), "run", "--config", str(config), *options],
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.PIPE,
            text=True,
            env=env,
        )
    finally:
        if log is not None:
            out.close()  # the child holds its own copy


def stop_service(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as systemd stops it; returns its log (stderr; empty if it went to a file)."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err or ""


def _wait_for_api(port: int) -> Client:
    client = Client(f"http://127.0.0.1:{port}")

    assert wait_until(lambda: api_answers(client.base)), "the service's API did not answer"
    return client


def api_answers(url: str) -> bool:
    """Whether the owner API at ``url`` answers its health check."""
    try:
        return Client(url).get("/api/health").status == 200
    except OSError:
        return False


@dataclass
class Device:
    """A running ``camera-app run``, seen from outside: its API and its data directory."""

    url: str
    data_dir: Path

    def setup_code(self) -> str:
        """A fresh one-time setup code, as ``camera-app owner new-code`` makes on the console."""
        conn = open_database(self.data_dir / "camera.db")
        try:
            return issue_setup_code(conn, SystemClock())
        finally:
            conn.close()

    def owner(self) -> Client:
        return Client(self.url).login("owner", OWNER_PASSWORD)


def owner_of(port: int, data_dir: Path) -> Client:
    """Wait for the service's API, make the owner account with a fresh setup code (as
    ``camera-app setup-code`` does on the console) and log in."""
    client = _wait_for_api(port)
    conn = open_database(data_dir / "camera.db")
    try:
        code = issue_setup_code(conn, SystemClock())
    finally:
        conn.close()
    reply = client.post(
        "/api/setup", {"code": code, "username": "owner", "password": OWNER_PASSWORD}
    )
    assert reply.status == 201, reply.body
    return client.login("owner", OWNER_PASSWORD)


def owner_again(port: int) -> Client:
    """After a restart: wait for the API and log in the owner :func:`owner_of` made."""
    return _wait_for_api(port).login("owner", OWNER_PASSWORD)


def go_live(owner: Client, camera: str = "cam1") -> None:
    """Opt in, register the owner and start the stream (home profile)."""
    owner.post(f"/api/cameras/{camera}/streaming/opt-in", {"confirmation": f"STREAM {camera}"})
    owner.post("/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()})
    started = owner.post(f"/api/cameras/{camera}/streaming/start")
    assert started.status == 200, started.body
