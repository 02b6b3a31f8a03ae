"""The whole live path in the real service: ``camera-app run`` plays a clip with a face, the owner
starts the stream over the API, and a real aiortc viewer receives frames in which the face is
redacted (judged on pixels by ``privacy.leakcheck``) while the rest of the picture is intact.

The only fake is the GPIO pin of the streaming LED (gpiozero's mock pin factory, selected with
``GPIOZERO_PIN_FACTORY=mock``): this machine has no GPIO header.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from firmware.videofile import VideoFileWriter
from privacy.leakcheck import crop, leak_score
from privacy.slate import privacy_hold_slate
from testkit.api import Client
from testkit.media import scene_background
from testkit.net import free_port
from testkit.service import go_live, owner_of, start_service, stop_service
from testkit.webrtc import Receiver

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
    proc = start_service(config, f"file:{clip}")
    try:
        owner = owner_of(port, data_dir)
        go_live(owner)

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
        err = stop_service(proc)
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
