"""A relay host on loopback, for the relay tests and the live-view benchmark: the real ``janus``
(Debian's package) with its VideoRoom behind ``deploy/janus/whip_frontend.py``.

It is started the way ``deploy/janus/README.md`` installs it: temporary copies of
``deploy/janus``'s configs with a free port and fresh random secrets (the Janus API secret, the
room secret and pin), the camera's token and a viewer token in files, and the front-end run as
the README's command. The device publishes to :meth:`LocalRelay.endpoint` over WHIP; viewers
subscribe through Janus's VideoRoom API or at :meth:`LocalRelay.viewer_endpoint`.
"""

from __future__ import annotations

import re
import secrets
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from testkit.net import free_port
from testkit.paths import REPO

DEPLOY = REPO / "deploy" / "janus"
ROOM = "camera"  # the room deploy/janus/janus.plugin.videoroom.jcfg defines
START_TIMEOUT_S = 20.0


class RelayUnavailable(RuntimeError):
    """No relay can run here (Janus missing), or it did not start."""


def janus_binary() -> str | None:
    return shutil.which("janus")


def wait_http(
    url: str,
    ready: set[int],
    process: subprocess.Popen[bytes],
    what: str,
    context: ssl.SSLContext | None = None,
) -> None:
    """Poll ``url`` until it answers with a status in ``ready``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RelayUnavailable(f"{what} exited with {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as response:
                status = response.status
        except urllib.error.HTTPError as err:
            status = err.code
        except OSError:
            time.sleep(0.05)
            continue
        if status in ready:
            return
        time.sleep(0.05)
    raise RelayUnavailable(f"{what} did not become ready at {url}")


def _fill(text: str, key: str, placeholder: str, value: str) -> str:
    """Uncomment ``#key = "@PLACEHOLDER@"`` with a value, as the README's install step does."""
    line = f'#{key} = "@{placeholder}@"'
    if line not in text:
        raise RelayUnavailable(f"{line} is not in the deploy config any more")
    return text.replace(line, f'{key} = "{value}"')


@dataclass
class LocalRelay:
    """Janus and the front-end(s), running; :meth:`stop` ends them all."""

    root: Path
    janus_url: str
    janus_secret: str
    room_pin: str
    token: str
    viewer_token: str
    files: dict[str, Path]
    whip_base: str = ""
    logs: dict[str, Path] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def viewer_token_file(self) -> Path:
        return self.files["viewer-token"]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def endpoint(self, room: str = ROOM) -> str:
        return f"{self.whip_base}/whip/endpoint/{room}"

    def viewer_endpoint(self, room: str = ROOM) -> str:
        return f"{self.whip_base}/whep/endpoint/{room}"

    def start_frontend(self, name: str, *extra: str, cafile: Path | None = None) -> str:
        """Run ``whip_frontend.py`` as the README does; returns its base URL once it answers
        (https, verified against ``cafile``, when given)."""
        port = free_port()
        log = self.logs[name] = self.root / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(DEPLOY / "whip_frontend.py"),
                    "--janus", self.janus_url,
                    "--listen", f"127.0.0.1:{port}",
                    "--token-file", str(self.files["token"]),
                    "--janus-secret-file", str(self.files["janus-secret"]),
                    "--room-pin-file", str(self.files["room-pin"]),
                    *extra,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.processes.append(process)
        context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
        base = f"{'https' if cafile else 'http'}://127.0.0.1:{port}"
        # the resource routes answer GET with 405 once the server is up
        wait_http(f"{base}/whip/resource/x", {405}, process, name, context)
        return base

    def log_tail(self, lines: int = 25) -> str:
        tails = []
        for name, path in self.logs.items():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(tails)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()

    def __enter__(self) -> LocalRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_relay(root: Path, *frontend_args: str) -> LocalRelay:
    """Janus with the deploy configs, then the front-end (with a viewer token and
    ``frontend_args``); both on loopback, logs in ``root``. Raises :class:`RelayUnavailable`."""
    janus = janus_binary()
    if janus is None:
        raise RelayUnavailable("Janus is not installed (Debian package janus)")
    configs = root / "janus"
    configs.mkdir()
    for path in DEPLOY.glob("*.jcfg"):
        shutil.copy(path, configs / path.name)
    janus_port = free_port()
    janus_secret, room_secret, room_pin, token, viewer_token = (
        secrets.token_urlsafe(24) for _ in range(5)
    )
    core = configs / "janus.jcfg"
    text = _fill(core.read_text(), "api_secret", "JANUS_API_SECRET", janus_secret)
    core.write_text(text.replace("debug_level = 4", "debug_level = 3"))
    transport = configs / "janus.transport.http.jcfg"
    text, count = re.subn(r"\bport = 8088\b", f"port = {janus_port}", transport.read_text())
    if count != 1:
        raise RelayUnavailable("the Janus HTTP port is not where deploy/janus had it")
    transport.write_text(text)
    room = configs / "janus.plugin.videoroom.jcfg"
    text = _fill(room.read_text(), "secret", "ROOM_SECRET", room_secret)
    room.write_text(_fill(text, "pin", "ROOM_PIN", room_pin))

    values = {
        "janus-secret": janus_secret,
        "room-pin": room_pin,
        "token": token,
        "viewer-token": viewer_token,
    }
    files = {name: root / name for name in values}
    for name, value in values.items():
        files[name].write_text(value + "\n")
    relay = LocalRelay(
        root,
        f"http://127.0.0.1:{janus_port}/janus",
        janus_secret,
        room_pin,
        token,
        viewer_token,
        files,
        logs={"janus": root / "janus.log"},
    )
    try:
        with relay.logs["janus"].open("wb") as log:
            relay.processes.append(
                subprocess.Popen(
                    [janus, "-F", str(configs), "--disable-colors"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
        wait_http(f"{relay.janus_url}/info", {200}, relay.processes[0], "janus")
        relay.whip_base = relay.start_frontend(
            "whip_frontend", "--viewer-token-file", str(files["viewer-token"]), *frontend_args
        )
    except BaseException:
        relay.stop()
        raise
    return relay
