"""A privacy mask saved in the owner app reaches the recordings of the real ``camera-app run``
without a restart, on a device whose config file the service may not write (0444 in a 0555
folder, as /etc/camera-app under ProtectSystem=strict): on a looping video with motion, the clips
before the save show the area, the next clip has it filled with the mask colour in every frame
(pre-roll included). The masks are kept in the data directory (the config file untouched) and win
over the config file's at the next start, which records nothing new."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from camera_app.config import load_service_config
from camera_app.config.changes import record_config_changes
from firmware.clock import SystemClock
from firmware.db import open_database
from testkit.api import Client
from testkit.media import write_motion_video
from testkit.net import free_port, wait_until
from testkit.service import owner_again, owner_of, start_service, stop_service

pytestmark = pytest.mark.slow

FPS = 15
CAMERA = "door"
MAGENTA = (255, 0, 255)  # BGR; nothing in the test scene has this colour
GREEN = (0, 255, 0)  # the config file's own mask, in its corner
# Across the path of the moving box (x 0..560, y 180..300 of 640x480), so motion goes on
# either side of it and events keep coming.
AREA = [[0.3, 0.25], [0.6, 0.25], [0.6, 0.75], [0.3, 0.75]]
# The config file's privacy mask: the top left corner, away from the motion.
CORNER = [[0.0, 0.0], [0.15, 0.0], [0.15, 0.15], [0.0, 0.15]]
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


def _colours(owner: Client, event: dict, area: list[list[float]]) -> np.ndarray:
    """The mean BGR colour inside the rectangle ``area`` (a few pixels in from its edges, where
    compression blurs) of every frame of the event's clip, decoded with PyAV."""
    clip = owner.get(event["clip_url"])
    assert clip.status == 200
    x0, x1 = round(area[0][0] * (WIDTH - 1)) + 6, round(area[1][0] * (WIDTH - 1)) - 6
    y0, y1 = round(area[0][1] * (HEIGHT - 1)) + 6, round(area[2][1] * (HEIGHT - 1)) - 6
    means = []
    with av.open(io.BytesIO(clip.raw)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="bgr24")
            means.append(image[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0))
    assert len(means) == event["clip_frames"]
    return np.array(means)


def _filled(colours: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((np.abs(colours - colour).max(axis=1) < 12).all())


def _unlike(colours: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((np.abs(colours - colour).max(axis=1) > 100).all())


def test_a_saved_privacy_mask_fills_the_next_clip_and_the_next_start(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    # 6 s looping in real time, motion from 1 s to 3 s of every loop: an event per loop
    video = write_motion_video(tmp_path / "motion.mp4", frames=90, fps=FPS, moving=(15, 45))
    port = free_port()
    data_dir = tmp_path / "data"
    (tmp_path / "etc").mkdir()
    config = write_config(
        {
            "camera": {"id": CAMERA},
            "capture": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "loop": True},
            "privacy_masks": {"color": list(GREEN), "areas": [{"name": "c", "points": CORNER}]},
            "events": {"trigger_frames": 3, "pre_roll_s": 1, "post_roll_s": 1},
            "recording": {"preset": "ultrafast"},
            "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
        },
        name="etc/config.yaml",
    )
    text = config.read_bytes()
    config.chmod(0o444)
    config.parent.chmod(0o555)
    try:
        _save_then_restart(config, video, port, data_dir)
    finally:
        config.parent.chmod(0o755)
        config.chmod(0o644)
    # never written, nothing made beside it (even where tests run as root)
    assert config.read_bytes() == text
    assert [p.name for p in config.parent.iterdir()] == ["config.yaml"]

    # the next start would find nothing new to record either
    conn = open_database(data_dir / "camera.db")
    try:
        actors = [
            row[0]
            for row in conn.execute(
                "SELECT actor FROM audit WHERE event = 'config_changed' ORDER BY seq"
            )
        ]
        assert actors == ["config-file", "owner"]  # the restart recorded nothing
        assert record_config_changes(conn, load_service_config(config).config, SystemClock()) == []
    finally:
        conn.close()


def _save_then_restart(config: Path, video: Path, port: int, data_dir: Path) -> None:
    proc = start_service(config, f"file:{video}")
    try:
        owner = owner_of(port, data_dir)
        assert wait_until(lambda: bool(_complete(owner, set())), timeout=60), _events(owner)
        first = _complete(owner, set())[0]
        assert _unlike(_colours(owner, first, AREA), MAGENTA)  # the area as the camera sees it
        assert _filled(_colours(owner, first, CORNER), GREEN)  # the config file's mask

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
        after = _complete(owner, earlier)[-1]
        assert _filled(_colours(owner, after, AREA), MAGENTA)
        assert _unlike(_colours(owner, after, CORNER), GREEN)  # the owner removed it
    finally:
        log = stop_service(proc)
    assert "Traceback" not in log, log

    # kept in the data directory; the config as the next start loads it has the owner's masks
    assert (data_dir / "owner-masks.yaml").is_file()
    loaded = load_service_config(config)
    assert loaded.replaced() == ["privacy_masks.color", "privacy_masks.areas"]
    assert [a.points for a in loaded.config.privacy_masks.areas] == [[tuple(p) for p in AREA]]
    assert loaded.config.privacy_masks.color == MAGENTA

    # restarted: the owner's masks are shown and burned into the clips, not the file's
    proc = start_service(config, f"file:{video}")
    try:
        owner = owner_again(port)
        shown = owner.get(f"/api/cameras/{CAMERA}/masks").body
        assert shown["privacy_masks"] == [{"name": "pavement", "points": AREA}], shown
        assert shown["color_bgr"] == list(MAGENTA)
        before = {e["id"] for e in _events(owner)}
        assert wait_until(lambda: bool(_complete(owner, before)), timeout=30), _events(owner)
        clip = _complete(owner, before)[0]
        assert _filled(_colours(owner, clip, AREA), MAGENTA)
        assert _unlike(_colours(owner, clip, CORNER), GREEN)
    finally:
        log = stop_service(proc)
    assert "Traceback" not in log, log
    assert "masks saved in the owner app" in log and "replace the config file's" in log
