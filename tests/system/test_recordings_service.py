"""The owner's recordings from the real ``camera-app run`` on a real video with motion: events
listed, the clip seeked and downloaded (and decoded), the event deleted, and monitoring disarmed
and armed again from the owner API, with the pipeline following."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from testkit.api import Client
from testkit.media import write_motion_video
from testkit.net import free_port, wait_until
from testkit.service import owner_of, start_service, stop_service

pytestmark = pytest.mark.slow

FPS = 15
CAMERA = "door"


def _events(owner: Client) -> list[dict]:
    reply = owner.get(f"/api/cameras/{CAMERA}/events?limit=200")
    assert reply.status == 200, reply.body
    return reply.body["events"]


def _complete(owner: Client) -> list[dict]:
    return [e for e in _events(owner) if e["status"] == "complete" and e["clip_url"]]


def test_owner_plays_downloads_deletes_and_disarms_through_the_api(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    # 6 s looping in real time, motion from 1 s to 3 s of every loop: an event per loop
    video = write_motion_video(tmp_path / "motion.mp4", frames=90, fps=FPS, moving=(15, 45))
    port = free_port()
    data_dir = tmp_path / "data"
    config = write_config(
        {
            "camera": {"id": CAMERA},
            "capture": {"width": 640, "height": 480, "fps": FPS, "loop": True},
            "events": {"trigger_frames": 3, "pre_roll_s": 1, "post_roll_s": 1},
            "recording": {"preset": "ultrafast"},
            "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
        }
    )
    proc = start_service(config, f"file:{video}")
    try:
        owner = owner_of(port, data_dir)
        assert wait_until(lambda: bool(_complete(owner)), timeout=60), _events(owner)
        event = _complete(owner)[0]
        clip = owner.get(event["clip_url"])
        assert clip.status == 200 and clip.headers["Accept-Ranges"] == "bytes"
        size = len(clip.raw)
        middle = owner.get(event["clip_url"], headers={"Range": f"bytes={size // 2}-"})
        assert middle.status == 206 and middle.raw == clip.raw[size // 2 :]
        download = owner.get(event["clip_url"] + "?download=1")
        with av.open(io.BytesIO(download.raw)) as container:
            assert sum(1 for _ in container.decode(video=0)) == event["clip_frames"]
        assert owner.get(event["snapshot_url"]).headers["Content-Type"] == "image/jpeg"
        assert owner.call("DELETE", f"/api/events/{event['id']}").status == 200
        assert event["id"] not in {e["id"] for e in _events(owner)}

        assert owner.post(f"/api/cameras/{CAMERA}/disarm").body["armed"] is False
        time.sleep(1.5)  # the open event (if any) ends at the next frame
        settled = {e["id"] for e in _events(owner)}
        time.sleep(7)  # more than a loop of the video: motion again, but disarmed
        assert {e["id"] for e in _events(owner)} == settled
        assert owner.get("/api/device/health").body["armed"] is False

        assert owner.post(f"/api/cameras/{CAMERA}/arm").body["armed"] is True
        assert wait_until(lambda: bool({e["id"] for e in _events(owner)} - settled), timeout=20)
        health = owner.get("/api/device/health").body
        assert health["armed"] is True and health["frames"] > 0 and health["fps"] > 5
    finally:
        stop_service(proc)
