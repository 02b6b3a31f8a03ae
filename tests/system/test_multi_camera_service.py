"""Two cameras on one device, in the real service: ``camera-app run`` with a ``cameras:`` list of
two ``file:`` cameras (``testkit.cameras``: a door where something crosses, a still yard).

Each camera has its own events (motion in the door's clip only: events for the door only, each
naming its camera), its own gates (the door opted in streams; the yard, not opted in, refuses),
and its own stream (a real aiortc viewer of the door gets the door's picture, of the yard the
yard's, told apart by content). Health reports each camera; over MQTT each camera's events
have a topic of their own.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import numpy as np
import pytest

from testkit.api import Client
from testkit.broker import Collector, MqttBroker, device_mqtt_config, publish_and_wait
from testkit.cameras import CameraClip, two_camera_service
from testkit.net import wait_until
from testkit.service import go_live
from testkit.webrtc import Receiver

pytestmark = pytest.mark.slow

WAIT_S = 60.0


def _events(owner: Client, camera: str) -> list[dict]:
    reply = owner.get(f"/api/cameras/{camera}/events")
    assert reply.status == 200, reply.body
    return reply.body["events"]


def _camera_health(owner: Client) -> dict[str, dict]:
    reply = owner.get("/api/device/health")
    assert reply.status == 200, reply.body
    return reply.body["cameras"]


async def _watch(owner: Client, clip: CameraClip, want: int) -> list[np.ndarray]:
    """Frames from a viewer of ``clip``'s camera until ``want`` of them show that camera."""
    viewer = Receiver()
    try:
        reply = await asyncio.to_thread(
            owner.call,
            "POST",
            f"/api/cameras/{clip.camera_id}/whep",
            raw=(await viewer.offer()).encode(),
            content_type="application/sdp",
        )
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        frames: list[np.ndarray] = []
        deadline = time.monotonic() + WAIT_S
        while sum(map(clip.shows, frames)) < want and time.monotonic() < deadline:
            frames.append(await viewer.frame(timeout=30))
    finally:
        await viewer.close()
    return frames


def _offer_refused(owner: Client, camera: str) -> int:
    async def offer() -> int:
        viewer = Receiver()
        try:
            reply = await asyncio.to_thread(
                owner.call,
                "POST",
                f"/api/cameras/{camera}/whep",
                raw=(await viewer.offer()).encode(),
                content_type="application/sdp",
            )
            return reply.status
        finally:
            await viewer.close()

    return asyncio.run(offer())


def test_two_cameras_have_their_own_events_gates_and_streams(tmp_path: Path) -> None:
    with two_camera_service(tmp_path) as service:
        door, yard, owner = service.door, service.yard, service.owner()
        cameras = {c["id"]: c for c in owner.get("/api/cameras").body}
        assert set(cameras) == {"door", "yard"}
        assert cameras["door"]["name"] == "Front door"

        # events: the door's box crosses once per loop; the yard never moves
        assert wait_until(lambda: len(_events(owner, "door")) >= 1, timeout=WAIT_S)
        # the yard has played its clip through more than once by now
        assert wait_until(lambda: _camera_health(owner)["yard"]["frames"] >= 90, timeout=WAIT_S)
        door_events = _events(owner, "door")
        assert door_events and all(e["camera_id"] == "door" for e in door_events)
        assert _events(owner, "yard") == []
        health = _camera_health(owner)
        assert health["door"]["error"] is None and health["yard"]["error"] is None

        # gates: the door opted in streams; the yard (not opted in) refuses
        go_live(owner, "door")
        refused = owner.post("/api/cameras/yard/streaming/start")
        assert refused.status == 409, refused.body
        assert _offer_refused(owner, "yard") == 409
        live = {c["id"]: c["live"] for c in owner.get("/api/cameras").body}
        assert live == {"door": True, "yard": False}

        # streams: the door's viewer gets the door, never the yard
        frames = asyncio.run(_watch(owner, door, want=5))
        assert sum(map(door.shows, frames)) >= 5, [door.mark_distance(f) for f in frames]
        assert not any(yard.shows(f) for f in frames)
        assert owner.post("/api/cameras/door/streaming/stop").status == 200

        # the yard opted in: its viewer gets the yard, never the door
        opted = owner.post("/api/cameras/yard/streaming/opt-in", {"confirmation": "STREAM yard"})
        assert opted.status in (200, 201), opted.body
        assert owner.post("/api/cameras/yard/streaming/start").status == 200
        frames = asyncio.run(_watch(owner, yard, want=5))
        assert sum(map(yard.shows, frames)) >= 5, [yard.mark_distance(f) for f in frames]
        assert not any(door.shows(f) for f in frames)
    assert service.returncode == 0, service.log
    assert "live privacy stage for door started" in service.log
    assert "live privacy stage for yard started" in service.log


def test_each_camera_has_its_own_mqtt_events_topic(tmp_path: Path, mqtt_broker: MqttBroker) -> None:
    """Over MQTT (a real mosquitto): the door's events on the door's topic, none on the yard's;
    the health message has each camera's figures; snapshot takes the camera asked for."""
    mqtt = {
        **device_mqtt_config(mqtt_broker, "site1"),
        "device_id": "site1",
        "health_interval_s": 5,
    }
    controller = mqtt_broker.client("controller")
    base = "camera/site1"
    door_events = Collector(controller, f"{base}/cameras/door/events/motion")
    yard_events = Collector(controller, f"{base}/cameras/yard/events/motion")
    health = Collector(controller, f"{base}/health")
    responses = Collector(controller, f"{base}/cmd/response")
    discovery = Collector(controller, "homeassistant/device/site1/config")
    states = Collector(controller, f"{base}/state")
    with two_camera_service(tmp_path, mqtt=mqtt) as service:
        starts = door_events.wait_for(1, timeout=WAIT_S)
        assert starts, "no event on the door's topic"
        assert json.loads(starts[0].payload)["camera"] == "door"
        reports = health.wait_for(2, timeout=WAIT_S)
        cameras = json.loads(reports[-1].payload)["cameras"]
        assert set(cameras) == {"door", "yard"} and cameras["yard"]["fps"] is not None
        # Home Assistant discovery: each camera its own entities, each reading its own figures
        cmps = json.loads(discovery.wait_for(1, timeout=10)[0].payload)["cmps"]
        assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)
        for camera in ("door", "yard"):
            assert cmps[f"{camera}_motion"]["unique_id"] == f"site1_{camera}_motion"
            assert f'cameras["{camera}"]' in cmps[f"{camera}_fps"]["value_template"]
            assert cameras[camera]["fps"] is not None  # what the template reads is there
        state = json.loads(states.wait_for(1, timeout=10)[-1].payload)
        assert state["cameras"]["yard"]["motion"] is False
        # the yard's snapshot button, pressed as Home Assistant does, takes the yard's picture
        button = cmps["yard_snapshot"]
        publish_and_wait(controller, button["command_topic"], button["payload_press"])
        answer = json.loads(responses.wait_for(1, timeout=10)[0].payload)
        assert answer["ok"] and answer["result"]["snapshot"].startswith("snapshots/yard/")
        assert yard_events.messages == []
    assert service.returncode == 0, service.log


def test_a_camera_that_fails_stops_alone(tmp_path: Path) -> None:
    """One camera's source cannot be read: that camera stops, with the reason in the health
    report; the other goes on monitoring and recording, and the service runs on."""
    attic = {
        "id": "attic",
        "name": "Attic",
        "capture": {"source": f"file:{tmp_path / 'missing.mp4'}", "width": 640, "height": 480},
    }
    with two_camera_service(tmp_path, only_door=True, more_cameras=(attic,)) as service:
        owner, proc = service.owner(), service.process
        assert wait_until(lambda: _camera_health(owner).get("attic", {}).get("error"), WAIT_S)
        assert wait_until(lambda: len(_events(owner, "door")) >= 1, timeout=WAIT_S)
        before = _camera_health(owner)["door"]["frames"]
        assert wait_until(lambda: _camera_health(owner)["door"]["frames"] > before + 10, WAIT_S)
        health = _camera_health(owner)
        assert health["door"]["error"] is None
        assert "missing.mp4" in health["attic"]["error"]
        assert proc.poll() is None  # still running
    assert service.returncode == 0, service.log
    assert "camera attic: capture failed" in service.log
