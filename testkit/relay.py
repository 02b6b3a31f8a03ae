"""A relay host on loopback, for the relay tests and the live-view benchmark: the real ``janus``
(Debian's package) with its VideoRoom behind ``deploy/janus/whip_frontend.py``.

It is started the way ``deploy/janus/README.md`` installs it: temporary copies of
``deploy/janus``'s configs with a free port, fresh random secrets (the Janus API secret, the
room secret and pin) and one room per camera, the camera's token in a file, a device's public
ticket key, and the front-end run as the README's command. The device publishes to
:meth:`LocalRelay.endpoint` over WHIP; viewers subscribe through Janus's VideoRoom API or at
:meth:`LocalRelay.viewer_endpoint` with a ticket (:meth:`LocalRelay.ticket` signs one with the
test device's key, as ``camera_app.live.tickets`` does on a device).

As a pytest plugin (``tests/conftest.py``) it gives the module-scoped fixture ``relay``: skipped
where Janus is not installed, failed when it does not start. A test module passes the front-end
other arguments by overriding ``relay_frontend_args``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import aiohttp
import jwt
import numpy as np
import pytest
from aiortc import RTCSessionDescription
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from yarl import URL

from camera_app.live.tickets import ALGORITHM, key_id, load_ticket_key, public_key_pem
from testkit.net import free_port
from testkit.paths import REPO
from testkit.webrtc import Receiver

DEPLOY = REPO / "deploy" / "janus"
ROOM = "camera"  # the room deploy/janus/janus.plugin.videoroom.jcfg defines
# made from it, as the README says to (kg-c, kg-d: a second kindergarten device at a site;
# door, yard: testkit.cameras's two cameras of one device)
ROOMS = (ROOM, "cam1", "kg-a", "kg-b", "kg-c", "kg-d", "counter", "door", "yard")
START_TIMEOUT_S = 20.0


class RelayUnavailable(RuntimeError):
    """No relay can run here (Janus missing), or it did not start."""


def deploy_module(name: str) -> ModuleType:
    """A module of ``deploy/janus`` (installed on the relay host beside the others, not a package
    of this repository), e.g. ``markcode`` to read the marker's block codes. Its imports of the
    others (``janusapi``) find them as on the relay host, in their directory (searched last:
    ``trace`` must not hide the standard library's)."""
    if str(DEPLOY) not in sys.path:
        sys.path.append(str(DEPLOY))
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


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
    files: dict[str, Path]
    device_key: Ed25519PrivateKey  # the test device's ticket key, installed in the front-end
    whip_base: str = ""
    logs: dict[str, Path] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ticket_keys: list[Path] = field(default_factory=list)  # public keys the front-ends trust
    marker: subprocess.Popen[bytes] | None = None  # deploy/janus/marker.py, when started

    def ticket(
        self,
        room: str = ROOM,
        *,
        ttl: float = 600,
        sub: str | None = None,
        key: Ed25519PrivateKey | None = None,
        audience: str | None = None,
        **claims: object,
    ) -> str:
        """A viewer's ticket for ``room``, signed like a device's (``key``: the test device's);
        ``claims`` add to or replace the usual ones (``jti``, ``iat``, ``exp``, ...)."""
        signer = key or self.device_key
        now = time.time()
        body: dict[str, object] = {
            "iss": "test-device",
            "aud": audience or self.whip_base,
            "cam": room,
            "sub": sub or secrets.token_hex(8),
            "role": "parent",
            "iat": math.floor(now),
            "exp": math.floor(now + ttl),
            "jti": secrets.token_urlsafe(16),
            "use": "ticket",
            **claims,
        }
        kid = key_id(signer.public_key())
        return jwt.encode(body, signer, algorithm=ALGORITHM, headers={"kid": kid})

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def endpoint(self, room: str = ROOM) -> str:
        return f"{self.whip_base}/whip/endpoint/{room}"

    def viewer_endpoint(self, room: str = ROOM) -> str:
        return f"{self.whip_base}/whep/endpoint/{room}"

    def ticket_file(self, room: str = ROOM, ttl: float = 3600) -> Path:
        """A file holding a fresh ticket for ``room`` (for viewers run as other processes)."""
        path = self.root / f"ticket-{secrets.token_hex(4)}"
        path.write_text(self.ticket(room, ttl=ttl) + "\n")
        return path

    def start_frontend(self, name: str, *extra: str, cafile: Path | None = None) -> str:
        """Run ``whip_frontend.py`` as the README does, trusting :attr:`ticket_keys` with its own
        origin as the tickets' audience; returns its base URL once it answers (https, verified
        against ``cafile``, when given)."""
        port = free_port()
        base = f"{'https' if cafile else 'http'}://127.0.0.1:{port}"
        keys = [arg for path in self.ticket_keys for arg in ("--ticket-key-file", str(path))]
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
                    "--audience", base,
                    *keys,
                    *extra,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.processes.append(process)
        context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
        # the resource routes answer GET with 405 once the server is up
        wait_http(f"{base}/whip/resource/x", {405}, process, name, context)
        return base

    def frontend_for_devices(self, data_dirs: Iterable[Path], root: Path) -> tuple[str, dict]:
        """A front-end of its own for the devices with these data directories: their ticket keys
        made there and installed (as ``camera-app relay-key`` prints them), then the front-end
        started. Returns its base URL and the devices' ``streaming.relay`` config section (its
        WHIP URL, and the publisher's token in a file in ``root``)."""
        self.ticket_keys.extend(install_ticket_key(data, root) for data in data_dirs)
        base = self.start_frontend(f"frontend-{root.name}")
        token_file = root / "relay-token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        return base, {"whip_url": base + "/whip/endpoint/{camera}", "token_file": str(token_file)}

    def start_marker(
        self, rooms: tuple[str, ...], groups: int, *extra: str, name: str = "marker"
    ) -> subprocess.Popen[bytes]:
        """Run ``marker.py`` as the README does, marking ``rooms`` in ``groups`` copies each;
        :meth:`stop_marker` ends it. It has no endpoint: it is ready when its copies are in the
        rooms (a marked viewer's subscription is then accepted). Another ``name`` starts a
        second marker beside :attr:`marker` (its log under that name), which
        :meth:`stop_marker` then stops."""
        log = self.logs[name] = self.root / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(DEPLOY / "marker.py"),
                    "--janus", self.janus_url,
                    "--janus-secret-file", str(self.files["janus-secret"]),
                    "--room-pin-file", str(self.files["room-pin"]),
                    "--groups", str(groups),
                    *[arg for room in rooms for arg in ("--room", room)],
                    *extra,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.processes.append(process)
        if name == "marker":
            self.marker = process
        return process

    def stop_marker(self, process: subprocess.Popen[bytes] | None = None) -> None:
        """Stop the marker (or another one started, ``process``) as systemd does (SIGTERM): it
        unpublishes its copies."""
        process = process or self.marker
        assert process is not None
        process.terminate()
        process.wait(timeout=15)
        self.processes.remove(process)
        if process is self.marker:
            self.marker = None

    @contextlib.contextmanager
    def janus_hung(self) -> Iterator[None]:
        """Janus hung for the block (SIGSTOP, then SIGCONT): it accepts requests and answers
        none, so the front-end's requests to it time out."""
        janus = self.processes[0]  # started first, by start_relay
        janus.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            janus.send_signal(signal.SIGCONT)

    def wait_for_log(self, name: str, words: str, since: int = 0, timeout: float = 30) -> None:
        """Wait until the log of ``name`` (a process started here) has ``words`` after its first
        ``since`` bytes."""
        deadline = time.monotonic() + timeout
        while words not in self.logs[name].read_bytes()[since:].decode(errors="replace"):
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never logged {words!r}\n{self.log_tail()}")
            time.sleep(0.05)

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


def install_ticket_key(data_dir: Path, root: Path) -> Path:
    """A device's ticket key made in its data directory as ``camera-app relay-key`` does; returns
    the public key's file in ``root``, for a front-end's ``--ticket-key-file``."""
    key = load_ticket_key(data_dir / "secrets" / "relay-ticket-key.pem")
    public = root / f"device-{key_id(key.public_key())}.pem"
    public.write_text(public_key_pem(key))
    return public


def start_relay(root: Path, *frontend_args: str, ticket_keys: tuple[Path, ...] = ()) -> LocalRelay:
    """Janus with the deploy configs (rooms :data:`ROOMS`), then the front-end (trusting the
    test device's ticket key, ``ticket_keys`` and ``frontend_args``); both on loopback, logs in
    ``root``. Raises :class:`RelayUnavailable`."""
    janus = janus_binary()
    if janus is None:
        raise RelayUnavailable("Janus is not installed (Debian package janus)")
    configs = root / "janus"
    configs.mkdir()
    for path in DEPLOY.glob("*.jcfg"):
        shutil.copy(path, configs / path.name)
    janus_port = free_port()
    janus_secret, room_secret, room_pin, token = (secrets.token_urlsafe(24) for _ in range(4))
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
    text = _fill(text, "pin", "ROOM_PIN", room_pin)
    section = re.search(r"^room-camera: \{.*?^\}\n", text, re.M | re.S)
    if section is None:
        raise RelayUnavailable("the room-camera section is not in the deploy config any more")
    # one room per camera: copies of the camera room, as the README says to make them
    copies = [section.group(0).replace("room-camera:", f"room-{r}:") for r in ROOMS[1:]]
    room.write_text(text + "\n" + "\n".join(copies))

    values = {
        "janus-secret": janus_secret,
        "room-pin": room_pin,
        "token": token,
    }
    files = {name: root / name for name in values}
    for name, value in values.items():
        files[name].write_text(value + "\n")
    device = root / "device"
    relay = LocalRelay(
        root,
        f"http://127.0.0.1:{janus_port}/janus",
        janus_secret,
        room_pin,
        token,
        files,
        load_ticket_key(device / "secrets" / "relay-ticket-key.pem"),
        logs={"janus": root / "janus.log"},
        ticket_keys=[install_ticket_key(device, root), *ticket_keys],
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
        relay.whip_base = relay.start_frontend("whip_frontend", *frontend_args)
    except BaseException:
        relay.stop()
        raise
    return relay


class RelayViewer(Receiver):
    """A viewer that comes in through the front-end's viewer endpoint with a ticket (the relay
    offers, the viewer answers with a PATCH), as viewers do when Janus's API stays on the relay
    host. ``ticket``: one the test device signs for ``room`` by default; ``url``: the viewer
    endpoint (default: the relay's, for ``room``)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        relay: LocalRelay,
        room: str = ROOM,
        ticket: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__()
        self.resource: str | None = None
        self._http = http
        self._url = url or relay.viewer_endpoint(room)
        self.ticket = ticket or relay.ticket(room)
        self.auth = {"Authorization": f"Bearer {self.ticket}"}
        self.last_frame_at = 0.0  # time.time() of the latest decoded frame

    async def open(self, wait_for_stream_s: float = 10) -> None:
        """Subscribe; AssertionError (with the relay's words) when it is refused. A room whose
        camera has just published has no stream for a moment (Janus takes the publisher's feed
        once its WebRTC connection is up: 404 "the room has no stream now", seen in a CI run
        15 ms after the publication started): that answer is asked again for up to
        ``wait_for_stream_s``; any other refusal fails at once."""
        deadline = time.monotonic() + wait_for_stream_s
        while True:
            async with self._http.post(self._url, headers=self.auth) as reply:
                text = await reply.text()
                if reply.status == 201:
                    self.resource = str(URL(self._url).origin()) + reply.headers["Location"]
                    assert reply.content_type == "application/sdp"
                    offer = text
                    break
                no_stream = reply.status == 404 and "no stream now" in text
                assert no_stream and time.monotonic() < deadline, (reply.status, text)
            await asyncio.sleep(0.2)
        assert "m=audio" not in offer
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        headers = {**self.auth, "Content-Type": "application/sdp"}
        answer = self.pc.localDescription.sdp
        async with self._http.patch(self.resource, data=answer, headers=headers) as reply:
            assert reply.status == 204, await reply.text()

    async def frame(self, timeout: float = 15) -> np.ndarray:
        image = await super().frame(timeout)
        self.last_frame_at = time.time()
        return image

    async def ended(self, timeout: float = 10) -> float:
        """Wait until the relay hung up this viewer (its connection closed or its track ended);
        returns when that was seen (time.time())."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pc.connectionState in ("closed", "failed"):
                return time.time()
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(self.frames.get(), 0.02) is None:
                    return time.time()
                self.last_frame_at = time.time()
        raise AssertionError(f"the relay did not end the viewer ({self.pc.connectionState})")


@pytest.fixture(scope="module")
def relay_frontend_args() -> tuple[str, ...]:
    """The ``relay`` fixture's front-end arguments beyond the usual ones; a module overrides it."""
    return ()


@pytest.fixture(scope="module")
def relay(
    tmp_path_factory: pytest.TempPathFactory, relay_frontend_args: tuple[str, ...]
) -> Iterator[LocalRelay]:
    """Janus with the deploy configs and the front-end, both on loopback, for one test module:
    skipped without Janus, failed when it does not start."""
    if janus_binary() is None:
        pytest.skip("Janus is not installed (Debian package janus: `deploy/sysdeps.sh --test`)")
    try:
        running = start_relay(tmp_path_factory.mktemp("relay"), *relay_frontend_args)
    except RelayUnavailable as err:
        pytest.fail(f"the relay did not start: {err}")
    with running:
        yield running
