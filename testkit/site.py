"""The site in tests: a device's ``site:`` config for the test broker; a bare site client that
pushes grants and asks for tickets over the real broker as ``site_app`` does (certificate CN
``site``), for the device's own tests; and the real ``site_app`` server (:func:`start_site`)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from camera_app.eventloop import LoopThread
from camera_app.sitelink.protocol import GrantSet, SiteGrant, SiteTopics, TicketRequest
from firmware.clock import Clock
from privacy.gates.viewers import TERMS_VERSION, CameraInfo
from site_app.accounts import SiteRole, create_account, prepare_password
from site_app.config import SiteConfig
from site_app.service import SiteService
from site_app.web.server import serve
from testkit.api import ApiFactory, Client, RunningApi, make_uscc
from testkit.broker import Collector, MqttBroker, device_mqtt_config, publish_and_wait
from testkit.gates import opt_in, register

EVERY_DAY = {
    "windows": [
        {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "24:00",
        }
    ]
}


def device_site_config(broker: MqttBroker, device_id: str) -> dict[str, Any]:
    """The ``site:`` config section of a device at the site whose broker is ``broker``."""
    return device_mqtt_config(broker, device_id) | {"device_id": device_id}


def parent_grant(account: str, rooms: list[str], expires_at: float, **extra: Any) -> SiteGrant:
    """A parent's grant of ``rooms``, every day, until ``expires_at``, the current viewing terms
    accepted."""
    grant = {"account": account, "rooms": rooms, "schedule": EVERY_DAY, "expires_at": expires_at}
    return SiteGrant.model_validate(grant | {"terms": TERMS_VERSION} | extra)


class SiteClient:
    """The site on the broker, for one device: its published state and its answers."""

    def __init__(self, broker: MqttBroker, device_id: str, prefix: str = "site") -> None:
        self.topics = SiteTopics(prefix, device_id)
        self.client = broker.client("site", client_id=f"site-{uuid.uuid4().hex[:6]}")
        self.cameras = Collector(self.client, self.topics.cameras)
        self.acks = Collector(self.client, self.topics.grants_ack)
        self.replies = Collector(self.client, self.topics.ticket_reply)

    def push_grants(self, *grants: SiteGrant) -> dict[str, Any]:
        """Publish the grant set (retained) and return the device's acknowledgement."""
        seen = len(self.acks.messages)
        payload = GrantSet(grants=grants).to_bytes()
        assert not publish_and_wait(
            self.client, self.topics.grants, payload, retain=True
        ).is_failure
        got = self.acks.wait_for(seen + 1, timeout=5)
        assert len(got) > seen, "the device did not acknowledge the grant set"
        return json.loads(got[-1].payload)

    def ask(self, account: str, camera: str, grant: SiteGrant, login_expires_at: float) -> dict:
        """Ask the device for a ticket; its reply."""
        return self.ask_raw(
            TicketRequest(
                request_id=uuid.uuid4().hex,
                account=account,
                camera=camera,
                grant=grant,
                login_expires_at=login_expires_at,
            ).to_bytes()
        )

    def ask_raw(self, payload: bytes) -> dict:
        rid = json.loads(payload).get("request_id")
        seen = len(self.replies.messages)
        assert not publish_and_wait(self.client, self.topics.ticket_request, payload).is_failure
        for _ in range(3):
            got = self.replies.wait_for(seen + 1, timeout=5)
            for message in got[seen:]:
                reply = json.loads(message.payload)
                if reply["request_id"] == rid:
                    return reply
            seen = len(got)
        raise AssertionError(f"no answer to ticket request {rid}")


def accept_terms(parent: Client) -> None:
    """A logged-in parent accepts the viewing terms the site shows them."""
    terms = parent.get("/api/me").body["terms"]
    assert parent.post("/api/terms", {"version": terms["version"]}).status == 200


# --- the site server itself ---------------------------------------------------------------------


@dataclass
class RunningSite:
    """``site_app`` running in this process on its own event-loop thread, as ``camera-site run``
    runs it: its database in ``root``, the real broker, HTTP on a free loopback port."""

    service: SiteService
    url: str
    loop: LoopThread
    runner: web.AppRunner

    def client(self) -> Client:
        return Client(self.url)

    def add_account(self, username: str, password: str, role: str = "staff") -> str:
        """An account made as ``camera-site add-account`` makes it; returns its id."""

        async def add() -> str:
            hashed = await asyncio.to_thread(prepare_password, username, password)
            service = self.service
            made = create_account(
                service.accounts, service.audit, username, SiteRole(role), hashed, by=None
            )
            return made.id

        return self.loop.run(add(), 10)

    def login(self, username: str, password: str) -> Client:
        return self.client().login(username, password)

    def setup_code(self) -> str:
        """A first-run setup code, as ``camera-site run`` shows one on a site without staff."""

        async def issue() -> str:
            return self.service.setup.issue()

        return self.loop.run(issue(), 10)

    def device_seen(self, device_id: str, timeout: float = 10) -> bool:
        """Whether the site has got the device's cameras (within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.service.directory.devices.get(device_id)
            if state is not None and state.cameras and state.online:
                return True
            time.sleep(0.05)
        return False

    def acknowledged(self, device_id: str, accounts: set[str], timeout: float = 10) -> bool:
        """Whether ``device_id`` acknowledged holding exactly the grants of ``accounts``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.service.directory.devices.get(device_id)
            if state is not None and state.ack is not None and set(state.ack.accepted) == accounts:
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        async def stop() -> None:
            await self.runner.cleanup()
            await self.service.close()

        try:
            self.loop.run(stop(), 15)
        finally:
            self.loop.stop()


def site_config(broker: MqttBroker, root: Path, **http: Any) -> SiteConfig:
    cert, key = broker.pki.client("site")
    return SiteConfig.model_validate(
        {
            "data_dir": str(root),
            "http": {"host": "127.0.0.1", "port": 0, **http},
            "broker": {
                "host": broker.host,
                "port": broker.port,
                "ca_file": str(broker.pki.ca_cert),
                "cert_file": str(cert),
                "key_file": str(key),
            },
        }
    )


def site_config_file(broker: MqttBroker, directory: Path) -> Path:
    """A config file (``directory``/site.yaml, data in ``directory``/data) for ``camera-site``
    run as a process on ``broker``, as its unit runs it."""
    path = directory / "site.yaml"
    config = site_config(broker, directory / "data")
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def start_site(broker: MqttBroker, root: Path, clock: Clock, **http: Any) -> RunningSite:
    """Start the site on ``broker``, keeping its data in ``root``; stop it with ``stop()``."""
    config = site_config(broker, root, **http)
    loop = LoopThread("site")
    loop.start()

    async def start() -> tuple[SiteService, web.AppRunner, str]:
        service = SiteService.open(config, clock)
        service.start()
        runner, url = await serve(service)
        return service, runner, url

    try:
        service, runner, url = loop.run(start(), 15)
    except BaseException:
        loop.stop()
        raise
    running = RunningSite(service, url, loop, runner)
    assert service.broker.wait_connected(10), "the site did not connect to its broker"
    return running


# --- kindergarten devices at a site ------------------------------------------------------------

KG = "kindergarten"
# device kg1 films the Sunflower and Rainbow rooms; device kg2 films Sunflower's nap room and Moon
DEVICE_CAMERAS = {
    "kg1": [
        CameraInfo("kg-a", "Sunflower room", "Sunflower", KG),
        CameraInfo("kg-b", "Rainbow room", "Rainbow", KG),
    ],
    "kg2": [
        CameraInfo("kg-c", "Sunflower nap room", "Sunflower", KG),
        CameraInfo("kg-d", "Moon room", "Moon", KG),
    ],
}
STAFF, STAFF_PASSWORD = "office", "office-pass-2026"
PARENT_PASSWORD = "p4rent-pass!"


def site_device(
    start_api: ApiFactory,
    broker: MqttBroker,
    device_id: str,
    *,
    real_time: bool = False,
    **streaming: Any,
) -> tuple[RunningApi, Client]:
    """A kindergarten device at the site with every gate of its cameras open and every camera
    streaming; ``streaming`` adds to its config (a relay). ``real_time``: its clock is set to
    the real time first (a relay checks a ticket's expiry against its own clock)."""
    api = start_api(
        {
            "streaming": {"profile": KG, "live_childcare_viewing_permitted": True, **streaming},
            "site": device_site_config(broker, device_id),
        },
        cameras=DEVICE_CAMERAS[device_id],
    )
    if real_time:
        api.clock.set_wall(time.time())
    owner = api.owner()
    stream_kindergarten(owner, [camera.id for camera in DEVICE_CAMERAS[device_id]])
    return api, owner


def stream_kindergarten(owner: Client, cameras: list[str]) -> None:
    """Open every kindergarten gate of ``cameras`` as their owner does (the institution's
    registration, the guardians' consents, the opt-in) and start each one's stream."""
    register(owner, "institution", uscc=make_uscc("12110000400001234"))
    for camera in cameras:
        consent = owner.post(
            f"/api/cameras/{camera}/consents",
            {"reference": "signed forms", "guardians": 24, "valid_until": "2027-07-15"},
        )
        assert consent.status == 201, consent.body
        opt_in(owner, camera)
        started = owner.post(f"/api/cameras/{camera}/streaming/start")
        assert started.status == 200, started.body
