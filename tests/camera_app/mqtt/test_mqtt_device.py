"""The device's MQTT bridge against a real mosquitto started with deploy/mosquitto's config (TLS,
client certificates, ACL): discovery, availability, a command round trip, refused commands that
change nothing, and a broker restart in the middle of a burst of 100 events.

The consumer is the "controller" identity (Home Assistant or a fleet console) from the same PKI.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera_app.config.mqtt import MqttConfig
from camera_app.mqtt.bridge import MqttBridge
from camera_app.mqtt.commands import Command
from camera_app.mqtt.outbox import Outbox
from camera_app.mqtt.topics import Topics
from firmware.clock import SystemClock
from firmware.db import open_database
from testkit.broker import Collector, MqttBroker, device_mqtt_config, publish_and_wait
from testkit.mqtt_payloads import MALFORMED
from testkit.net import wait_until

DEVICE = "cam-a"
TOPICS = Topics("camera", DEVICE)


class Device:
    """The bridge as the service runs it, with the commands it was asked to run recorded."""

    def __init__(self, broker: MqttBroker, db: Path, **overrides: object) -> None:
        cert, key = broker.pki.client(DEVICE)
        config = MqttConfig(
            enabled=True,
            host=broker.host,
            port=broker.port,
            ca_file=broker.pki.ca_cert,
            cert_file=cert,
            key_file=key,
            device_id=DEVICE,
            reconnect_max_s=2,
            **overrides,
        )
        self.conn = open_database(db)
        self.outbox = Outbox(self.conn, config.outbox_max_events)
        self.commands: list[Command] = []
        self.bridge = MqttBridge(
            config, TOPICS, "Front door", self.outbox, SystemClock(), self._command
        )

    def _command(self, command: Command) -> None:
        self.commands.append(command)
        self.bridge.reply(command.name, command.request_id, ok=True, result={"done": True})

    def stop(self) -> None:
        self.bridge.stop()
        self.conn.close()


@pytest.fixture
def device(mqtt_broker: MqttBroker, tmp_path: Path) -> Iterator[Device]:
    made = Device(mqtt_broker, tmp_path / "camera.db")
    made.bridge.start()
    assert wait_until(lambda: made.bridge.connected, timeout=10), mqtt_broker.log_tail()
    yield made
    made.stop()


def test_discovery_availability_and_home_assistant_restart(
    mqtt_broker: MqttBroker, device: Device
) -> None:
    controller = mqtt_broker.client("controller")
    discovery = Collector(controller, TOPICS.discovery)
    availability = Collector(controller, TOPICS.availability)
    (config,) = discovery.wait_for(1, timeout=5)
    assert config.retain  # a Home Assistant that starts later still finds the device
    payload = json.loads(config.payload)
    assert payload["dev"]["ids"] == [f"camera-app-{DEVICE}"]
    assert set(payload["cmps"]) >= {"motion", "armed", "streaming", "snapshot", "stop_stream"}
    assert availability.wait_for(1, timeout=5)[0].payload == b"online"

    # Home Assistant restarts and says so: the device announces itself again
    publish_and_wait(controller, TOPICS.ha_status, b"online")
    assert len(discovery.wait_for(2, timeout=5)) == 2

    # decommission: the retained discovery and state are cleared
    assert device.bridge.decommission()
    cleared = discovery.wait_for(3, timeout=5)[2]
    assert cleared.payload == b""
    assert (
        Collector(_reconnected(controller, mqtt_broker), TOPICS.discovery).wait_for(1, timeout=1.5)
        == []
    )


def _reconnected(client, broker: MqttBroker):
    """A new controller connection that sees only what is retained now. The old one is closed
    first: the broker binds the client id to the certificate, so two would kick each other."""
    client.disconnect()
    client.loop_stop()
    return broker.client("controller")


def test_last_will_marks_a_vanished_device_offline(mqtt_broker: MqttBroker, tmp_path: Path) -> None:
    controller = mqtt_broker.client("controller")
    availability = Collector(controller, TOPICS.availability)
    gone = Device(mqtt_broker, tmp_path / "camera.db", keepalive_s=5)
    gone.bridge.start()
    assert availability.wait_for(1, timeout=10)[-1].payload == b"online"
    # the connection dies without a DISCONNECT (as when power is cut): the broker sends the will
    gone.bridge._client._sock_close()
    gone.bridge._client.loop_stop()
    messages = availability.wait_for(2, timeout=20)
    assert messages[-1].payload == b"offline" and len(messages) >= 2
    gone.stop()


def test_command_round_trip(mqtt_broker: MqttBroker, device: Device) -> None:
    controller = mqtt_broker.client("controller")
    responses = Collector(controller, TOPICS.responses)
    publish_and_wait(controller, TOPICS.command("disarm"), b'{"request_id": "r-1"}')
    (answer,) = responses.wait_for(1, timeout=5)
    body = json.loads(answer.payload)
    assert body == {
        "request_id": "r-1",
        "command": "disarm",
        "ok": True,
        "error": None,
        "reason": None,
        "result": {"done": True},
    }
    assert [c.name for c in device.commands] == ["disarm"]


def test_malformed_and_forbidden_commands_are_refused_and_change_nothing(
    mqtt_broker: MqttBroker, tmp_path: Path
) -> None:
    device = Device(mqtt_broker, tmp_path / "camera.db", commands_per_minute=600)
    device.bridge.start()
    try:
        assert wait_until(lambda: device.bridge.connected, timeout=10)
        controller = mqtt_broker.client("controller")
        responses = Collector(controller, TOPICS.responses)
        for name, payload in MALFORMED:
            publish_and_wait(controller, TOPICS.command(name), payload)
        answers = responses.wait_for(len(MALFORMED), timeout=10)
        assert len(answers) == len(MALFORMED)
        bodies = [json.loads(a.payload) for a in answers]
        assert all(b["ok"] is False and b["error"] and b["reason"] for b in bodies)
        starts = [b for b in bodies if b["command"] in ("start_stream", "start", "stream")]
        assert starts and all(b["error"] == "not_allowed" for b in starts)
        assert device.commands == [] and device.bridge.refused == len(MALFORMED)
        assert len(device.outbox) == 0
    finally:
        device.stop()


def test_commands_over_the_rate_are_refused(mqtt_broker: MqttBroker, tmp_path: Path) -> None:
    device = Device(mqtt_broker, tmp_path / "camera.db", commands_per_minute=5)
    device.bridge.start()
    try:
        assert wait_until(lambda: device.bridge.connected, timeout=10)
        controller = mqtt_broker.client("controller")
        responses = Collector(controller, TOPICS.responses)
        for i in range(8):
            publish_and_wait(controller, TOPICS.command("arm"), f'{{"request_id": "a{i}"}}')
        bodies = [json.loads(a.payload) for a in responses.wait_for(8, timeout=5)]
        assert [b["ok"] for b in bodies] == [True] * 5 + [False] * 3
        assert {b["error"] for b in bodies[5:]} == {"rate_limited"}
        assert len(device.commands) == 5
    finally:
        device.stop()


def test_a_broker_restart_in_a_burst_of_100_events_loses_none_and_no_duplicate_is_ambiguous(
    mqtt_broker: MqttBroker, device: Device
) -> None:
    """QoS 1 is at-least-once: an event the broker had stored when it went down, but whose
    acknowledgement the device never got, is sent again. Such a redelivery is byte-identical,
    with the same event id, so a consumer keyed on event ids sees each event exactly once."""
    # the consumer keeps a persistent session, so what the broker holds for it survives too
    consumer = mqtt_broker.client("controller", clean_start=False, client_id="fleet")
    events = Collector(consumer, TOPICS.motion)
    restarted = threading.Event()

    def restart_broker() -> None:
        mqtt_broker.restart()
        restarted.set()

    for i in range(100):
        device.bridge.publish_event({"type": "start", "event_id": f"ev-{i:03d}", "camera": "c"})
        if i == 40:  # mid-burst: the broker goes down and comes back while events keep coming
            threading.Thread(target=restart_broker, daemon=True).start()
        time.sleep(0.01)
    assert restarted.wait(30), mqtt_broker.log_tail()
    expected = [f"ev-{i:03d}" for i in range(100)]

    def event_ids() -> list[str]:
        return [json.loads(m.payload)["event_id"] for m in events.messages]

    assert wait_until(lambda: set(event_ids()) >= set(expected), timeout=30), (
        f"events were lost: {sorted(set(expected) - set(event_ids()))}"
    )
    first_seen: dict[str, bytes] = {}
    for message in events.messages:
        event_id = json.loads(message.payload)["event_id"]
        assert first_seen.setdefault(event_id, message.payload) == message.payload
    assert list(first_seen) == expected, "events arrived out of order"
    assert len(set(event_ids())) == 100
    assert wait_until(lambda: len(device.outbox) == 0, timeout=10)


def test_events_made_while_the_broker_is_down_are_delivered_when_it_is_back(
    mqtt_broker: MqttBroker, device: Device
) -> None:
    consumer = mqtt_broker.client("controller", clean_start=False, client_id="fleet")
    events = Collector(consumer, TOPICS.motion)
    mqtt_broker.stop()
    assert wait_until(lambda: not device.bridge.connected, timeout=10)
    for i in range(10):
        device.bridge.publish_event({"type": "start", "event_id": f"down-{i}", "camera": "c"})
    assert len(device.outbox) == 10  # on disk, waiting
    mqtt_broker.start()
    received = events.wait_for(10, timeout=30)
    assert [json.loads(m.payload)["event_id"] for m in received] == [f"down-{i}" for i in range(10)]
    assert wait_until(lambda: len(device.outbox) == 0, timeout=10)


def test_decommission_from_the_command_line_clears_every_retained_topic(
    mqtt_broker: MqttBroker, device: Device, tmp_path: Path, write_config
) -> None:
    import subprocess

    from testkit.service import camera_app_cmd

    device.stop()  # the service is stopped for good; its retained messages are still there
    config = write_config(
        {
            "camera": {"id": DEVICE},
            "storage": {"data_dir": str(tmp_path / "data")},
            "mqtt": device_mqtt_config(mqtt_broker, DEVICE),
        }
    )
    open_database(tmp_path / "data" / "camera.db").close()
    watcher = mqtt_broker.client("controller")
    retained = Collector(watcher, f"{TOPICS.base}/#")
    discovery = Collector(watcher, TOPICS.discovery)
    assert discovery.wait_for(1, timeout=5) and retained.wait_for(2, timeout=5)
    result = subprocess.run(
        [*camera_app_cmd(), "mqtt", "decommission", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    later = _reconnected(watcher, mqtt_broker)
    assert Collector(later, TOPICS.discovery).wait_for(1, timeout=1.5) == []
    assert Collector(later, f"{TOPICS.base}/#").wait_for(1, timeout=1.5) == []
    assert later.is_connected()  # the silence above is the broker's, not a dropped client
