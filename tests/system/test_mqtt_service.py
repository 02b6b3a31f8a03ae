"""MQTT in the real service: ``camera-app run`` on a clip with motion, connected to a real
mosquitto with its own client certificate. A controller (Home Assistant's identity) sees the
device announce itself, motion events with snapshot references (never images), arms and disarms
it, takes a snapshot, and stops a live stream the owner started; the disarmed state survives a
restart, and a stopped service says ``offline``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from firmware.db import open_database
from testkit.broker import Collector, MqttBroker, Received, device_mqtt_config, publish_and_wait
from testkit.net import free_port, wait_until
from testkit.service import go_live, owner_of, start_service, stop_service

pytestmark = pytest.mark.slow

BASE = "camera/cam1"


def _json(messages: list[Received]) -> list[dict]:
    return [json.loads(m.payload) for m in messages if m.payload]


def test_the_service_over_mqtt(
    mqtt_broker: MqttBroker,
    tmp_path: Path,
    write_config: Callable[[dict], Path],
    motion_video: Callable[..., Path],
) -> None:
    clip = motion_video(frames=45, moving=(10, 30))  # 3 s, looped: an event every loop
    port = free_port()
    data_dir = tmp_path / "data"
    config = write_config(
        {
            "camera": {"id": "cam1", "name": "Porch"},
            "storage": {"data_dir": str(data_dir)},
            "capture": {"pacing": "realtime", "loop": True},
            "events": {"post_roll_s": 0.5},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
            "mqtt": {**device_mqtt_config(mqtt_broker, "cam1"), "health_interval_s": 5},
        }
    )
    controller = mqtt_broker.client("controller")
    discovery = Collector(controller, "homeassistant/device/cam1/config")
    availability = Collector(controller, f"{BASE}/availability")
    state = Collector(controller, f"{BASE}/state")
    motion = Collector(controller, f"{BASE}/events/motion")
    health = Collector(controller, f"{BASE}/health")
    responses = Collector(controller, f"{BASE}/cmd/response")

    def command(name: str, body: dict) -> dict:
        before = len(responses.messages)
        publish_and_wait(controller, f"{BASE}/cmd/{name}", json.dumps(body))
        answers = responses.wait_for(before + 1, timeout=10)
        assert len(answers) > before, f"no answer to {name}"
        return json.loads(answers[before].payload)

    proc = start_service(config, f"file:{clip}")
    try:
        assert discovery.wait_for(1, timeout=20), "the device did not announce itself"
        assert availability.wait_for(1)[-1].payload == b"online"
        assert wait_until(lambda: any(s["armed"] for s in _json(state.messages)), timeout=10)
        # the running version is part of the state (an announced update would be too)
        assert _json(state.messages)[-1]["update"]["version"]

        # motion: an event starts and ends, with a reference to its snapshot on the device
        assert wait_until(lambda: len(motion.messages) >= 2, timeout=20), "no motion events"
        start, end = _json(motion.messages)[:2]
        assert start["type"] == "start" and end["type"] == "end"
        assert start["event_id"] == end["event_id"] and start["camera"] == "cam1"
        assert start["snapshot"].startswith("snapshots/cam1/")
        assert not any(len(m.payload) > 2000 for m in motion.messages), "an image was sent"
        assert wait_until(lambda: (data_dir / start["snapshot"]).exists(), timeout=10)

        # health arrives with the capture rate
        (first_health, *_) = health.wait_for(1, timeout=15)
        assert {"fps", "dropped_frames", "disk_free_mb"} <= set(json.loads(first_health.payload))

        # disarm: answered, and the state says so
        answer = command("disarm", {"request_id": "d1"})
        assert answer["ok"] and answer["result"] == {"armed": False}
        assert wait_until(lambda: _json(state.messages)[-1]["armed"] is False, timeout=5)

        # a snapshot on request: a reference to a JPEG on the device
        shot = command("snapshot", {"request_id": "s1"})
        assert shot["ok"], shot
        picture = data_dir / shot["result"]["snapshot"]
        assert picture.read_bytes()[:2] == b"\xff\xd8"

        # a live stream the owner started can be stopped over MQTT (never started)
        owner = owner_of(port, data_dir)
        go_live(owner)
        assert wait_until(lambda: _json(state.messages)[-1]["streaming"] is True, timeout=5)
        refused = command("start_stream", {"request_id": "x"})
        assert refused["ok"] is False and refused["error"] == "not_allowed"
        stopped = command("stop_stream", {"request_id": "t1", "camera": "cam1"})
        assert stopped["ok"] and stopped["result"] == {"camera": "cam1", "stopped": True}
        assert wait_until(lambda: _json(state.messages)[-1]["streaming"] is False, timeout=5)
        assert owner.get("/api/cameras/cam1/streaming").body["state"] == "monitoring"
    finally:
        err = stop_service(proc)
    assert proc.returncode == 0, err
    assert availability.wait_for(2, timeout=5)[-1].payload == b"offline"
    conn = open_database(data_dir / "camera.db")
    try:
        stops = conn.execute(
            "SELECT actor, details FROM audit WHERE event = 'stream_stopped'"
        ).fetchall()
    finally:
        conn.close()
    assert (stops[0][0],) == ("mqtt",) and "stopped over MQTT" in stops[0][1]

    # the disarmed state is kept across a restart
    state.clear()
    proc = start_service(config, f"file:{clip}")
    try:
        assert wait_until(lambda: bool(_json(state.messages)), timeout=20)
        assert _json(state.messages)[-1]["armed"] is False
    finally:
        stop_service(proc)
