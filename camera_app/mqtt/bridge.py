"""The device's MQTT connection: availability, state, events, reminders, health, commands,
discovery.

paho-mqtt runs the connection on its own thread and reconnects by itself, with a delay that
doubles from 1 s up to ``mqtt.reconnect_max_s``. The last will marks the device ``offline``
(retained) if it vanishes; on every connection it says ``online``, (re)publishes its discovery
message and state, subscribes to its commands and sends what waited in the outbox.

Events and reminders go through the on-disk :class:`~camera_app.mqtt.outbox.Outbox` and a
sender thread, in order, QoS 1: a row is deleted only when the broker acknowledged it. Messages
handed to paho that were not acknowledged when the connection dropped are re-sent by paho itself
after it reconnects (same packet, DUP flag); rows not yet handed over are sent after them.

Commands are validated here (``commands.parse``) and answered on the response topic when
refused; valid ones are passed to ``on_command``, which answers through :meth:`reply` once done.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camera_app.config.mqtt import MqttConfig
from camera_app.mqtt.commands import Command, RateLimiter, Refusal, parse, response
from camera_app.mqtt.discovery import discovery_payload
from camera_app.mqtt.outbox import Outbox
from camera_app.mqtt.tls import client_context
from camera_app.mqtt.topics import Topics
from firmware.clock import Clock

log = logging.getLogger(__name__)

QOS = 1


class MqttBridge:
    def __init__(
        self,
        config: MqttConfig,
        topics: Topics,
        device_name: str,
        outbox: Outbox,
        clock: Clock,
        on_command: Callable[[Command], None],
        cameras: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._cfg = config
        self.topics = topics
        self._name = device_name
        self._cameras = tuple(cameras)  # (id, name): several get their own discovery entities
        self.outbox = outbox
        self._clock = clock
        self._on_command = on_command
        self._limiter = RateLimiter(config.commands_per_minute, clock.monotonic)
        self._state: dict[str, Any] | None = None
        self._connected = threading.Event()
        self._wake = threading.Condition()
        self._stopping = False
        self._handed_upto = 0  # highest outbox seq given to paho (it keeps and re-sends those)
        self._ack_lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # paho mid -> outbox seq
        self._acked_early: set[int] = set()  # PUBACKs that beat the bookkeeping
        self.refused = 0
        self._decommissioned = False
        self._client = self._make_client()
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-outbox", daemon=True)

    # --- lifecycle --------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg = self._cfg
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.topics.device_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,  # commands sent while the device was away are not replayed
        )
        client.will_set(self.topics.availability, "offline", qos=QOS, retain=True)
        if cfg.tls:
            client.tls_set_context(client_context(cfg.ca_file, cfg.cert_file, cfg.key_file))
        client.reconnect_delay_set(min_delay=1, max_delay=int(cfg.reconnect_max_s))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    def start(self) -> None:
        """Connect in the background; the device works the same while the broker is away."""
        log.info(
            "MQTT: connecting to %s:%d as %s (TLS %s)",
            self._cfg.host,
            self._cfg.port,
            self.topics.device_id,
            "on" if self._cfg.tls else "off",
        )
        self._client.connect_async(self._cfg.host, self._cfg.port, self._cfg.keepalive_s)
        self._client.loop_start()
        self._sender.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (retained) and disconnect; undelivered events stay in the outbox."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._connected.is_set() and not self._decommissioned:
            info = self._client.publish(self.topics.availability, "offline", QOS, retain=True)
            # if the connection went away meanwhile, the last will says the same
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()
        if self._sender.is_alive():
            self._sender.join(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- what the device publishes ----------------------------------------------------------

    def publish_event(self, payload: dict[str, Any], topic: str | None = None) -> None:
        """A motion event (start or end), kept on disk until the broker has it; ``topic``
        None: the device's events topic (one camera)."""
        self.outbox.add(topic or self.topics.motion, _json(payload), self._clock.wall())
        with self._wake:
            self._wake.notify_all()

    def publish_reminder(self, payload: dict[str, Any]) -> None:
        """A re-attestation reminder, kept on disk until the broker has it (like an event)."""
        self.outbox.add(self.topics.reminder, _json(payload), self._clock.wall())
        with self._wake:
            self._wake.notify_all()

    def publish_state(self, state: dict[str, Any]) -> None:
        """The retained state; remembered and sent again on every reconnect."""
        self._state = state
        if self._connected.is_set():
            self._client.publish(self.topics.state, _json(state), QOS, retain=True)

    def publish_health(self, health: dict[str, Any]) -> None:
        if self._connected.is_set():
            self._client.publish(self.topics.health, _json(health), 0, retain=False)

    def reply(self, name: str, request_id: str | None, **fields: Any) -> None:
        """Answer a command on the response topic (``ok``, ``error``, ``reason``, ``result``)."""
        payload = response(name, request_id, **fields)
        self._client.publish(self.topics.responses, payload, QOS, retain=False)

    def decommission(self, timeout: float = 5.0) -> bool:
        """Remove the device from Home Assistant and clear its retained topics."""
        if not self._connected.wait(timeout):
            return False
        self._decommissioned = True  # stop() must not leave a retained "offline" behind
        infos = [
            self._client.publish(topic, b"", QOS, retain=True)
            for topic in (self.topics.discovery, self.topics.state, self.topics.availability)
        ]
        for info in infos:
            info.wait_for_publish(timeout)
        return True

    # --- paho callbacks (paho's thread) -----------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _p: Any):
        if reason.is_failure:
            log.warning("MQTT: the broker refused the connection: %s", reason)
            return
        log.info("MQTT: connected to %s:%d", self._cfg.host, self._cfg.port)
        client.publish(self.topics.availability, "online", QOS, retain=True)
        client.subscribe([(self.topics.commands, QOS), (self.topics.ha_status, QOS)])
        self._announce(client)
        if self._state is not None:
            client.publish(self.topics.state, _json(self._state), QOS, retain=True)
        self._connected.set()
        with self._wake:
            self._wake.notify_all()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning("MQTT: disconnected (%s); reconnecting with backoff", reason)

    def _announce(self, client: mqtt.Client) -> None:
        if self._cfg.discovery:
            payload = discovery_payload(self.topics, self._name, self._cameras)
            client.publish(self.topics.discovery, payload, QOS, retain=True)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        with self._ack_lock:
            seq = self._inflight.pop(mid, None)
            if seq is None:
                self._acked_early.add(mid)
                return
        self.outbox.delivered(seq)

    def _on_message(self, client: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        if topic == self.topics.ha_status:
            if message.payload == b"online":
                log.info("MQTT: Home Assistant is online; announcing the device again")
                self._announce(client)
            return
        name = topic.rsplit("/", 1)[-1]
        if name == "response":  # our own answers, matched by the cmd/+ filter
            return
        outcome = parse(name, message.payload, self._limiter)
        if isinstance(outcome, Refusal):
            self.refused += 1
            log.warning(
                "MQTT: refused command %r: %s (%s)", outcome.name, outcome.error, outcome.reason
            )
            self.reply(
                outcome.name,
                outcome.request_id,
                ok=False,
                error=outcome.error,
                reason=outcome.reason,
            )
            return
        log.info("MQTT: command %s", outcome.name)
        self._on_command(outcome)

    # --- the outbox sender ------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not (self._connected.is_set() and self._has_unsent()):
                    self._wake.wait(timeout=1.0)
                if self._stopping:
                    return
            for row in self.outbox.pending(after=self._handed_upto, limit=100):
                if not self._connected.is_set():
                    break
                info = self._client.publish(row.topic, row.payload, QOS, retain=False)
                self._handed_upto = row.seq
                with self._ack_lock:
                    if info.mid in self._acked_early:
                        self._acked_early.discard(info.mid)
                        acked = True
                    else:
                        self._inflight[info.mid] = row.seq
                        acked = False
                if acked:
                    self.outbox.delivered(row.seq)

    def _has_unsent(self) -> bool:
        return bool(self.outbox.pending(after=self._handed_upto, limit=1))


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
