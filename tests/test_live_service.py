"""The whole live path in the real service: ``camera-app run`` plays a clip with a face, the owner
starts the stream over the API, and a real aiortc viewer receives frames in which the face is
redacted (judged on pixels by ``privacy.leakcheck``) while the rest of the picture is intact.

The only fake is the GPIO pin of the streaming LED (gpiozero's mock pin factory, selected with
``GPIOZERO_PIN_FACTORY=mock``): this machine has no GPIO header.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from camera_app.accounts import issue_setup_code
from camera_app.clock import SystemClock
from camera_app.db import open_database
from firmware.videofile import VideoFileWriter
from privacy.leakcheck import crop, leak_score
from privacy.slate import privacy_hold_slate
from tests.apiclient import Client, make_id
from tests.conftest import camera_app_cmd, scene_background
from tests.livepeers import Receiver, free_port, wait_until

pytestmark = pytest.mark.slow

W, H, FPS = 640, 480, 15
FACE_IN_HEAD = (56, 50, 97, 106)  # the astronaut's face inside the head crop below
HEAD_AT = (200, 100)


def _clip(path: Path, frames: int = 45) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A person (the astronaut, public domain, shipped with scikit-image) in a textured room;
    returns the first frame and the face box."""
    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:300, 120:330]
    scene = scene_background(W, H)
    x, y = HEAD_AT
    scene[y : y + head.shape[0], x : x + head.shape[1]] = head
    rng = np.random.default_rng(5)
    with VideoFileWriter(path, FPS, W, H, crf=18, preset="ultrafast") as writer:
        for _ in range(frames):
            noise = rng.integers(-2, 3, scene.shape)
            writer.write(np.clip(scene.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    fx, fy, fw, fh = FACE_IN_HEAD
    return scene, (x + fx, y + fy, fw, fh)


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_service_streams_redacted_faces_to_a_viewer(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    clip = tmp_path / "person.mp4"
    scene, face = _clip(clip)
    port = free_port()
    data_dir = tmp_path / "data"
    config = write_config(
        {
            "camera": {"id": "cam1", "name": "Hall"},
            "storage": {"data_dir": str(data_dir)},
            "capture": {"pacing": "realtime", "loop": True},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
        }
    )
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}  # no GPIO header here (see above)
    proc = subprocess.Popen(
        [*camera_app_cmd(), "run", "--config", str(config), "--source", f"file:{clip}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        client = Client(f"http://127.0.0.1:{port}")

        def answers() -> bool:
            try:
                return client.get("/api/health").status == 200
            except OSError:
                return False

        assert wait_until(answers), "the service's API did not answer"
        conn = open_database(data_dir / "camera.db")
        try:
            code = issue_setup_code(conn, SystemClock())  # what `camera-app setup-code` does
        finally:
            conn.close()
        password = "a long test password"
        reply = client.post(
            "/api/setup", {"code": code, "username": "owner", "password": password}
        )
        assert reply.status == 201, reply.body
        owner = client.login("owner", password)
        owner.post("/api/cameras/cam1/streaming/opt-in", {"confirmation": "STREAM cam1"})
        owner.post(
            "/api/registrations", {"kind": "owner", "name": "王小明", "resident_id": make_id()}
        )
        started = owner.post("/api/cameras/cam1/streaming/start")
        assert started.status == 200, started.body

        frames = asyncio.run(_watch(owner, streamed=lambda f: _diff(f, scene) < 30, want=10))
        slate = privacy_hold_slate(W, H)
        streamed = [f for f in frames if _diff(f, scene) < 30]
        assert len(streamed) >= 10, "no redacted frames arrived (only the slate?)"
        assert all(_diff(f, slate) > 30 for f in streamed)
        original_face = crop(scene, face)
        assert original_face is not None
        for image in streamed:
            received_face = crop(image, face)
            assert received_face is not None
            score = leak_score(original_face, received_face)
            assert not score.leaked, f"a face reached the viewer: {score}"
            # away from the person the picture is the room, as captured
            assert _diff(image[:, 480:], scene[:, 480:]) < 15

        assert owner.post("/api/cameras/cam1/streaming/stop").status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "live privacy stage for cam1 started" in err
    assert "live privacy stage for cam1 stopped" in err


async def _watch(owner: Client, streamed: Callable[[np.ndarray], bool], want: int) -> list:
    viewer = Receiver()
    try:
        reply = await asyncio.to_thread(
            owner.call,
            "POST",
            "/api/cameras/cam1/whep",
            raw=(await viewer.offer()).encode(),
            content_type="application/sdp",
        )
        assert reply.status == 201, reply.body
        await viewer.accept(reply.raw.decode())
        frames: list[np.ndarray] = []
        deadline = time.monotonic() + 60
        while sum(map(streamed, frames)) < want and time.monotonic() < deadline:
            frames.append(await viewer.frame(timeout=30))
    finally:
        await viewer.close()
    return frames
