"""A privacy mask saved in the owner app reaches the recordings of the real ``camera-app run``
without a restart: on a looping video with motion, the clips before the save show the area, the
next clip has it filled with the mask colour in every frame (pre-roll included), and the config
file holds the mask for the next start, which will not record the change again."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from camera_app.config import load_config
from camera_app.config.changes import record_config_changes
from firmware.clock import SystemClock
from firmware.db import open_database
from testkit.api import Client
from testkit.media import write_motion_video
from testkit.net import free_port, wait_until
from testkit.service import owner_of, start_service, stop_service

pytestmark = pytest.mark.slow

FPS = 15
CAMERA = "door"
MAGENTA = (255, 0, 255)  # BGR; nothing in the test scene has this colour
# Across the path of the moving box (x 0..560, y 180..300 of 640x480), so motion goes on
# either side of it and events keep coming.
AREA = [[0.3, 0.25], [0.6, 0.25], [0.6, 0.75], [0.3, 0.75]]
WIDTH, HEIGHT = 640, 480


def _events(owner: Client) -> list[dict]:
    reply = owner.get(f"/api/cameras/{CAMERA}/events?limit=200")
    assert reply.status == 200, reply.body
    return reply.body["events"]


def _complete(owner: Client, exclude: set[str]) -> list[dict]:
    return [
        e
        for e in _events(owner)
        if e["status"] == "complete" and e["clip_url"] and e["id"] not in exclude
    ]


def _area_colours(owner: Client, event: dict) -> np.ndarray:
    """The mean BGR colour inside the masked area (a few pixels in from its edges, where
    compression blurs) of every frame of the event's clip, decoded with PyAV."""
    clip = owner.get(event["clip_url"])
    assert clip.status == 200
    x0, x1 = round(AREA[0][0] * (WIDTH - 1)) + 6, round(AREA[1][0] * (WIDTH - 1)) - 6
    y0, y1 = round(AREA[0][1] * (HEIGHT - 1)) + 6, round(AREA[2][1] * (HEIGHT - 1)) - 6
    means = []
    with av.open(io.BytesIO(clip.raw)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="bgr24")
            means.append(image[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0))
    assert len(means) == event["clip_frames"]
    return np.array(means)


def test_a_saved_privacy_mask_fills_the_next_clip_without_a_restart(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    # 6 s looping in real time, motion from 1 s to 3 s of every loop: an event per loop
    video = write_motion_video(tmp_path / "motion.mp4", frames=90, fps=FPS, moving=(15, 45))
    port = free_port()
    data_dir = tmp_path / "data"
    config = write_config(
        {
            "camera": {"id": CAMERA},
            "capture": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "loop": True},
            "events": {"trigger_frames": 3, "pre_roll_s": 1, "post_roll_s": 1},
            "recording": {"preset": "ultrafast"},
            "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
        }
    )
    proc = start_service(config, f"file:{video}")
    try:
        owner = owner_of(port, data_dir)
        assert wait_until(lambda: bool(_complete(owner, set())), timeout=60), _events(owner)
        before = _area_colours(owner, _complete(owner, set())[0])
        distance = np.abs(before - MAGENTA).max(axis=1)
        assert (distance > 100).all(), before  # the area as the camera sees it

        saved = owner.put(
            f"/api/cameras/{CAMERA}/masks",
            {
                "privacy_masks": [{"name": "pavement", "points": AREA}],
                "motion_masks": [],
                "color_bgr": list(MAGENTA),
            },
        )
        assert saved.status == 200, saved.body
        assert saved.body["changed"] == ["privacy_masks"]
        # the capture loop applies the masks before its next frame (1/15 s); events known
        # half a second later may have begun before the save, so only later ones count
        time.sleep(0.5)
        earlier = {e["id"] for e in _events(owner)}
        assert wait_until(lambda: bool(_complete(owner, earlier)), timeout=30), _events(owner)
        after = _area_colours(owner, _complete(owner, earlier)[-1])
        assert (np.abs(after - MAGENTA).max(axis=1) < 12).all(), after
    finally:
        log = stop_service(proc)
    assert "Traceback" not in log, log

    # kept in the file for the next start, which will find nothing new to record
    reloaded = load_config(config)
    assert [a.points for a in reloaded.privacy_masks.areas] == [[tuple(p) for p in AREA]]
    assert reloaded.privacy_masks.color == MAGENTA
    conn = open_database(data_dir / "camera.db")
    try:
        actors = [
            row[0]
            for row in conn.execute(
                "SELECT actor FROM audit WHERE event = 'config_changed' ORDER BY seq"
            )
        ]
        assert actors == ["config-file", "owner"]
        assert record_config_changes(conn, reloaded, SystemClock()) == []
    finally:
        conn.close()
