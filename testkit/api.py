"""A real owner-API server on loopback and a plain HTTP client for the API tests.

The server is the production ``OwnerServices`` (its own thread and event loop, real SQLite on disk,
real sockets). The client is the standard library's ``urllib``, so nothing of the server's own
code is on the client side. The only fake is the GPIO pin of the indicator LED (gpiozero's
``MockFactory``: this machine has no GPIO) and the clock, which the tests set.
"""

from __future__ import annotations

import functools
import http.client
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from gpiozero.pins.mock import MockFactory
from stdnum.cn import ric, uscc

from camera_app.accounts import issue_setup_code
from camera_app.app import OwnerServices
from camera_app.config import AppConfig, load_service_config, parse_config
from camera_app.health import DeviceHealth
from camera_app.masks import MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.preview import LatestPicture
from firmware.db import open_database
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.gates.viewers import CameraInfo
from testkit.clock import FakeClock

TZ = ZoneInfo("Asia/Shanghai")
# Monday 16 November 2026, 10:00 in Shanghai
MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=TZ).timestamp()
OWNER = "owner"
OWNER_PASSWORD = "correct horse battery"


def make_id(region: str = "110101", born: str = "19900307", seq: str = "123") -> str:
    body = region + born + seq
    return body + ric.calc_check_digit(body + "0")


def make_uscc(body: str = "91440300MA5FXXXX1") -> str:
    return body + uscc.calc_check_digit(body)


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    raw: bytes = b""
    set_cookies: tuple[str, ...] = ()  # every Set-Cookie header, as sent

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies set: name -> value."""
        pairs = (c.split(";")[0].partition("=") for c in self.set_cookies)
        return {name.strip(): value for name, _, value in pairs}

    @property
    def error(self) -> str | None:
        return self.body.get("error") if isinstance(self.body, dict) else None


class _FromAddress(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Opens connections from one local address (``source``), e.g. 127.0.0.2: a second client
    address on loopback for tests of per-address limits."""

    def __init__(self, source: str, context: ssl.SSLContext | None) -> None:
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self, context=context)
        self._source = (source, 0)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPConnection, source_address=self._source)
        return self.do_open(connection, req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(http.client.HTTPSConnection, source_address=self._source)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


@dataclass
class Client:
    """JSON over HTTP(S) with an optional bearer token; ``source`` binds the client's sockets to
    that local address (127.0.0.2, ...: another client address on loopback)."""

    base: str
    token: str | None = None
    ssl_context: ssl.SSLContext | None = None
    headers: dict[str, str] = field(default_factory=dict)
    source: str | None = None

    def _open(self, request: urllib.request.Request) -> http.client.HTTPResponse:
        if self.source is None:
            return urllib.request.urlopen(request, timeout=30, context=self.ssl_context)
        opener = urllib.request.build_opener(_FromAddress(self.source, self.ssl_context))
        return opener.open(request, timeout=30)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        bearer = token if token is not None else self.token
        if bearer:
            request.add_header("Authorization", f"Bearer {bearer}")
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with self._open(request) as resp:
                payload, status, message = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as err:
            payload, status, message = err.read(), err.code, err.headers
        got = dict(message)
        cookies = tuple(message.get_all("Set-Cookie", []))
        kind = got.get("Content-Type", "")
        parsed: Any = payload
        if kind.startswith("application/json") and payload:
            parsed = json.loads(payload)
        return Reply(status, parsed, got, payload, cookies)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.call("PUT", path, body, **kw)

    def login(self, username: str, password: str) -> Client:
        reply = self.post("/api/login", {"username": username, "password": password})
        assert reply.status == 200, reply.body
        return Client(self.base, reply.body["token"], self.ssl_context, source=self.source)


@dataclass
class RunningApi:
    server: OwnerServices
    config: AppConfig
    clock: FakeClock
    pins: MockFactory
    indicator: StreamingIndicator
    monitoring: MonitoringControl
    preview: LatestPicture
    masks: MaskSettings
    config_file: Path | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, source: str | None = None) -> Client:
        """A client of this server; ``source``: the local address it connects from."""
        return Client(self.url, source=source)

    @property
    def paths(self) -> StoragePaths:
        return StoragePaths(self.config.storage.data_dir)

    def db(self):
        return open_database(self.paths.database)

    def setup_code(self) -> str:
        conn = self.db()
        try:
            return issue_setup_code(conn, self.clock)
        finally:
            conn.close()

    def owner(self) -> Client:
        """Create the owner account through the API and return a logged-in client."""
        client = self.client()
        reply = client.post(
            "/api/setup",
            {"code": self.setup_code(), "username": OWNER, "password": OWNER_PASSWORD},
        )
        assert reply.status == 201, reply.body
        return client.login(OWNER, OWNER_PASSWORD)

    def led_on(self) -> bool:
        return bool(self.pins.pin(self.config.streaming.indicator_pin).state)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait for the server's once-a-second gate ticker to act."""
        done = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if predicate():
                return True
            done.wait(0.05)
        return predicate()


ApiFactory = Callable[..., RunningApi]


def launch(
    data_dir: Path,
    overrides: dict[str, Any] | None = None,
    *,
    cameras: list[CameraInfo] | None = None,
    indicator: StreamingIndicator | None = None,
    pins: MockFactory | None = None,
    config_path: Path | None = None,
) -> RunningApi:
    """Start one server keeping its data in ``data_dir``; stop it with :func:`shutdown`. Tests
    use the ``start_api`` fixture; this is for a server shared by a module's tests. With
    ``config_path`` the config is written there and loaded from it, as ``camera-app run
    --config FILE`` does (the owner app can then save masks into it)."""
    data: dict[str, Any] = {
        "camera": {"id": "cam1", "name": "Front door", "timezone": "Asia/Shanghai"},
        "storage": {"data_dir": str(data_dir)},
        "api": {"host": "127.0.0.1", "port": 0, "tls": False, "session_hours": 720},
    }
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    if config_path is not None:
        config_path.write_text(yaml.safe_dump(data, sort_keys=False))
        config = load_service_config(config_path).config
    else:
        config = parse_config(data)
    clock = FakeClock(MONDAY_10)  # the server reads it on its own thread: thread-safe
    pins = pins or MockFactory()
    led = indicator or StreamingIndicator(config.streaming.indicator_pin, pin_factory=pins)

    cams = {c.id: c for c in cameras} if cameras else None
    # the capture side's controls, as camera-app run makes them (no capture loop here:
    # nothing applies the armed state to a pipeline, and health has no frame counts)
    paths = StoragePaths(config.storage.data_dir)
    paths.create()
    monitoring = MonitoringControl(paths.database, clock)
    health = DeviceHealth(paths.root, config.storage.quota_mb, clock)
    preview = LatestPicture()
    masks = MaskSettings(config, paths.database, clock)
    camera_id = config.first_camera().id
    # one picture holder stands for every camera's (tests put a frame in it for the preview)
    pictures = {cid: preview for cid in (cams or {camera_id: None})}
    server = OwnerServices(
        config,
        clock,
        led,
        cameras=cams,
        monitoring=monitoring,
        health=health,
        pictures=pictures,
        masks={camera_id: masks},
    )
    server.start()
    return RunningApi(server, config, clock, pins, led, monitoring, preview, masks, config_path)


def shutdown(running: RunningApi) -> None:
    """Stop a server that :func:`launch` started."""
    running.server.stop()
    running.monitoring.close()
    running.masks.close()
    running.indicator.close()


@pytest.fixture
def start_api(tmp_path: Path) -> Iterator[ApiFactory]:
    """Start servers: ``start_api(config_overrides, cameras=[...])``; all stopped afterwards.

    ``config_file=True`` writes the config to a file and loads it from there as
    ``camera-app run --config FILE`` does (the owner's saved masks in its data directory over
    it)."""
    started: list[RunningApi] = []

    def start(
        overrides: dict[str, Any] | None = None,
        *,
        cameras: list[CameraInfo] | None = None,
        indicator: StreamingIndicator | None = None,
        pins: MockFactory | None = None,
        config_file: bool = False,
    ) -> RunningApi:
        running = launch(
            tmp_path / f"data{len(started)}",
            overrides,
            cameras=cameras,
            indicator=indicator,
            pins=pins,
            config_path=tmp_path / f"config{len(started)}.yaml" if config_file else None,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        shutdown(running)
