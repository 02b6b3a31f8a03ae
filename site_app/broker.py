"""The site on its broker: it reads what every device publishes, sends each device its grants
(retained) and asks devices for tickets (request and answer matched by ``request_id``, with a
timeout).

paho-mqtt runs the connection on its own thread and reconnects by itself; every message is
handed to the site's event loop, where the directory and the pending requests live. The broker's
ACL (user ``site``) lets the site read ``<prefix>/+/up/#`` and write ``<prefix>/+/down/#`` only;
a device's topic level is its certificate CN, so a device cannot speak for another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from camera_app.mqtt.tls import client_context
from camera_app.sitelink.protocol import (
    MAX_PAYLOAD,
    AuditHead,
    AuditRecords,
    AuditRequest,
    DeviceCameras,
    EndedLogins,
    GrantsAck,
    GrantSet,
    SiteTopics,
    TicketReply,
    TicketRequest,
    device_of,
)
from site_app.audit import DeviceAuditTrails
from site_app.config import SiteBrokerConfig
from site_app.directory import Directory

log = logging.getLogger(__name__)

QOS = 1
CLIENT_ID = "site"


class DeviceUnreachable(Exception):
    """The device did not answer in time (offline, or the broker is away)."""


class SiteBroker:
    """The site's MQTT connection. Build it on the site's event loop."""

    def __init__(
        self,
        config: SiteBrokerConfig,
        directory: Directory,
        on_device_changed: Callable[[str], None],
        trails: DeviceAuditTrails,
    ) -> None:
        self._config = config
        self.directory = directory
        self._trails = trails
        self._heads: dict[str, AuditHead] = {}  # the latest head each device published
        self._on_device_changed = on_device_changed
        self._loop = asyncio.get_running_loop()
        self._pending: dict[tuple[str, str], asyncio.Future[TicketReply]] = {}
        self._published: dict[str, bytes] = {}  # device -> the grant set it was last sent
        self._ended_sent: dict[str, bytes] = {}  # device -> the ended logins it was last sent
        self._connected = threading.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        cfg = self._config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=CLIENT_ID,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.tls_set_context(client_context(cfg.ca_file, cfg.cert_file, cfg.key_file))
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def topics(self, device_id: str) -> SiteTopics:
        return SiteTopics(self._config.prefix, device_id)

    def start(self) -> None:
        log.info("site broker: connecting to %s:%d", self._config.host, self._config.port)
        self._client.connect_async(self._config.host, self._config.port, 30)
        self._client.loop_start()

    async def close(self) -> None:
        await asyncio.to_thread(self._close)
        for future in self._pending.values():
            future.cancel()

    def _close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("site broker: connection refused: %s", reason)
            return
        client.subscribe(f"{self._config.prefix}/+/up/#", QOS)
        self._connected.set()
        log.info("site broker: connected")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        log.info("site broker: disconnected (%s)", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if len(message.payload) <= MAX_PAYLOAD:
            self._loop.call_soon_threadsafe(self._handle, message.topic, bytes(message.payload))

    # --- the site's loop --------------------------------------------------------------------

    def _handle(self, topic: str, payload: bytes) -> None:
        found = device_of(topic, self._config.prefix)
        if found is None:
            return
        device_id, rest = found
        try:
            if rest == "up/availability":
                self.directory.device(device_id).online = payload == b"online"
                self._on_device_changed(device_id)
            elif rest == "up/cameras":
                self._take_cameras(device_id, payload)
            elif rest == "up/grants" and payload:
                self.directory.device(device_id).ack = GrantsAck.model_validate_json(payload)
            elif rest == "up/audit/head":
                self._heads[device_id] = AuditHead.model_validate_json(payload)
                self._follow_audit(device_id)
            elif rest == "up/audit":
                self._take_audit(device_id, AuditRecords.model_validate_json(payload))
            elif rest == "up/ticket":
                reply = TicketReply.model_validate_json(payload)
                future = self._pending.pop((device_id, reply.request_id), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except ValidationError as err:
            log.warning("site broker: %s sent a malformed %s: %s", device_id, rest, err.errors()[0])

    def _take_cameras(self, device_id: str, payload: bytes) -> None:
        state = self.directory.device(device_id)
        if not payload:  # the device left the site
            state.cameras = ()
        else:
            cameras = DeviceCameras.model_validate_json(payload)
            if cameras.device != device_id:
                log.warning("site broker: %s published cameras as %s", device_id, cameras.device)
                return
            state.cameras = cameras.cameras
        self._on_device_changed(device_id)

    def _follow_audit(self, device_id: str) -> None:
        """Ask for the records after the trail's last one while the device's head is ahead."""
        head = self._heads.get(device_id)
        after = self._trails.wants_after(device_id, head) if head is not None else None
        if after is not None:
            request = AuditRequest(request_id=f"audit-{after}", after=after)
            self._client.publish(self.topics(device_id).audit_request, request.to_bytes(), QOS)

    def _take_audit(self, device_id: str, records: AuditRecords) -> None:
        if records.request_id != f"audit-{self._trails.state(device_id).seq}":
            return  # an answer to an older request (the trail moved on meanwhile)
        if self._trails.take(device_id, records.records) and records.records:
            self._follow_audit(device_id)

    def publish_grants(self, device_id: str, grants: GrantSet) -> None:
        """Send ``device_id`` its grant set (retained), unless it was sent that very set."""
        payload = grants.to_bytes()
        if self._published.get(device_id) == payload:
            return
        self._published[device_id] = payload
        self._client.publish(self.topics(device_id).grants, payload, QOS, retain=True)
        log.info("site broker: %d grant(s) sent to %s", len(grants.grants), device_id)

    def publish_ended_logins(self, device_id: str, ended: EndedLogins) -> None:
        """Send ``device_id`` the site logins that ended early lately (retained), unless it was
        sent that very list."""
        payload = ended.to_bytes()
        if self._ended_sent.get(device_id) == payload:
            return
        self._ended_sent[device_id] = payload
        self._client.publish(self.topics(device_id).logins_ended, payload, QOS, retain=True)

    async def request_ticket(self, device_id: str, request: TicketRequest) -> TicketReply:
        """Ask ``device_id`` for a ticket; raises :class:`DeviceUnreachable` after the timeout."""
        key = (device_id, request.request_id)
        future: asyncio.Future[TicketReply] = self._loop.create_future()
        self._pending[key] = future
        try:
            self._client.publish(self.topics(device_id).ticket_request, request.to_bytes(), QOS)
            async with asyncio.timeout(self._config.ticket_timeout_s):
                return await future
        except TimeoutError:
            raise DeviceUnreachable(f"{device_id} did not answer") from None
        finally:
            self._pending.pop(key, None)
            with contextlib.suppress(asyncio.InvalidStateError):
                future.cancel()
