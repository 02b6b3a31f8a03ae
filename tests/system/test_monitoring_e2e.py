"""The monitoring path end to end through the real ``camera-app`` entry point and real files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from testkit.media import decode_frames
from testkit.service import camera_app_cmd

FPS = 15
PRE_ROLL = 2.0
POST_ROLL = 2.0

pytestmark = pytest.mark.slow


def _config(data_dir: Path, source: str, **overrides: dict) -> dict:
    config: dict = {
        "camera": {"id": "door"},
        "capture": {"source": source, "width": 640, "height": 480, "fps": FPS},
        "events": {"trigger_frames": 3, "pre_roll_s": PRE_ROLL, "post_roll_s": POST_ROLL},
        "recording": {"preset": "ultrafast"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
    }
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    return config


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*camera_app_cmd(), *args], capture_output=True, text=True, timeout=timeout
    )


def _events(config: Path) -> list[dict]:
    result = _run(["events", "list", "--json", "--config", str(config)])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_video_with_motion_makes_event_clip_and_snapshot(
    tmp_path: Path, motion_video: Callable[..., Path], write_config: Callable[[dict], Path]
) -> None:
    video = motion_video(frames=150, fps=FPS, moving=(30, 74))  # 10 s, motion from 2 s to 5 s
    data = tmp_path / "data"
    config = write_config(_config(data, f"file:{video}", capture={"pacing": "fast", "loop": False}))
    result = _run(["run", "--config", str(config)])
    assert result.returncode == 0, result.stderr
    assert "source ended" in result.stderr

    events = _events(config)
    assert len(events) == 1, events
    event = events[0]
    assert event["status"] == "complete" and event["end_reason"] == "motion_ended"
    assert event["camera_id"] == "door" and event["peak_motion"] > 0

    clip = data / event["clip_path"]
    frames, duration = decode_frames(clip)
    assert frames == event["clip_frames"]
    assert abs(duration - event["clip_duration_s"]) < 1.5 / FPS
    # The clip covers pre-roll + the event (first motion frame → end after the post-roll).
    expected = round((event["ended_at"] - event["started_at"] + PRE_ROLL) * FPS) + 1
    assert abs(frames - expected) <= PRE_ROLL * 1  # ± 1 frame per second of pre-roll
    assert abs(duration - frames / FPS) < 1.5 / FPS
    # motion lasted 3 s: the event is that plus the post-roll, give or take detection lag
    assert 4.0 <= event["ended_at"] - event["started_at"] <= 6.0

    snapshot = cv2.imread(str(data / event["snapshot_path"]))
    assert snapshot is not None and snapshot.shape == (480, 640, 3)
    assert event["snapshot_bytes"] == (data / event["snapshot_path"]).stat().st_size

    db = sqlite3.connect(data / "camera.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_static_video_makes_no_event(
    tmp_path: Path, motion_video: Callable[..., Path], write_config: Callable[[dict], Path]
) -> None:
    video = motion_video(frames=60, fps=FPS, moving=None)
    config = write_config(
        _config(tmp_path / "d", f"file:{video}", capture={"pacing": "fast", "loop": False})
    )
    assert _run(["run", "--config", str(config)]).returncode == 0
    assert _events(config) == []


def test_kill_9_during_recording_leaves_playable_clip_and_consistent_db(
    tmp_path: Path, motion_video: Callable[..., Path], write_config: Callable[[dict], Path]
) -> None:
    # Motion through the whole (looping, real-time) file: the event stays open until killed.
    video = motion_video(frames=90, fps=FPS, moving=(0, 89))
    data = tmp_path / "data"
    config = write_config(
        _config(
            data,
            f"file:{video}",
            capture={"pacing": "realtime", "loop": True},
            recording={"fragment_s": 0.5},
        )
    )
    proc = subprocess.Popen(
        [*camera_app_cmd(), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        clip = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            clips = list((data / "clips").rglob("*.mp4")) if (data / "clips").exists() else []
            if clips and clips[0].stat().st_size > 150_000:
                clip = clips[0]
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.2)
        assert clip is not None, "no clip was being written"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()

    frames, _ = decode_frames(clip)
    assert frames >= FPS  # at least the pre-roll and the first fragments survived

    db = sqlite3.connect(data / "camera.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT status FROM events").fetchall() == [("active",)]
    db.close()

    # The next start recovers the event: closed as interrupted, with the frames the clip holds.
    result = _run(["run", "--config", str(config), "--duration", "1"])
    assert result.returncode == 0, result.stderr
    assert "was interrupted; recovered" in result.stderr
    events = _events(config)
    interrupted = [e for e in events if e["status"] == "interrupted"]
    assert len(interrupted) == 1
    assert interrupted[0]["clip_frames"] >= frames
    assert decode_frames(data / interrupted[0]["clip_path"])[0] == frames


def test_unreadable_video_is_a_clear_error_without_crash(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    junk = tmp_path / "broken.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    for source in (f"file:{junk}", f"file:{tmp_path / 'missing.mp4'}"):
        config = write_config(_config(tmp_path / "d", source))
        result = _run(["run", "--config", str(config)], timeout=60)
        assert result.returncode == 4, result.stderr
        assert "capture failed" in result.stderr
        assert "Traceback" not in result.stderr


def test_bad_config_is_refused_before_anything_is_created(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    data = tmp_path / "data"
    config = write_config(_config(data, "test:", motion={"treshold": 10}))
    result = _run(["run", "--config", str(config), "--duration", "1"])
    assert result.returncode == 3
    assert "motion.treshold: unknown key" in result.stderr
    assert not data.exists()

    malformed = tmp_path / "m.yaml"
    malformed.write_text("capture: [unclosed\n")
    result = _run(["run", "--config", str(malformed)])
    assert result.returncode == 3 and "invalid YAML at line" in result.stderr


def test_tiny_quota_is_handled_and_logged(
    tmp_path: Path, motion_video: Callable[..., Path], write_config: Callable[[dict], Path]
) -> None:
    # A 0.2 MB quota cannot hold one 5 s clip: the clip is cut short but stays playable; the next
    # event is indexed without a clip; nothing crashes and the log says why.
    data = tmp_path / "data"
    stderr = []
    for seed in (3, 4):
        video = motion_video(f"v{seed}.mp4", frames=240, fps=FPS, moving=(20, 80), seed=seed)
        config = write_config(
            _config(
                data,
                f"file:{video}",
                capture={"pacing": "fast", "loop": False},
                storage={"quota_mb": 0.2},
            )
        )
        result = _run(["run", "--config", str(config)])
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        stderr.append(result.stderr)
        if seed == 3:
            (first,) = _events(config)
            assert first["note"] == "recording stopped: storage quota reached"
            assert "cut short: storage quota reached" in result.stderr
            # uncut, the clip would hold ~126 frames (pre-roll + 4 s motion + post-roll)
            assert 0 < first["clip_frames"] < 100
            assert decode_frames(data / first["clip_path"])[0] == first["clip_frames"]
            assert first["clip_bytes"] == (data / first["clip_path"]).stat().st_size
            # the recorder counts encoded bytes after every frame: the overshoot is one frame
            # (at most a keyframe, well under 100 KiB at 640x480)
            used = first["clip_bytes"] + first["snapshot_bytes"]
            assert used <= 0.2 * 1024 * 1024 + 100 * 1024

    assert "storage quota full and nothing left to delete" in stderr[1]
    events = _events(config)
    assert events[0]["note"] == "recording skipped: storage quota full"
    assert events[0]["clip_path"] is None and events[0]["snapshot_path"]
    assert all(e["status"] == "complete" for e in events)


def test_unusable_data_dir_is_a_clear_error(
    tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    config = write_config(_config(blocker / "data", "test:"))
    result = _run(["run", "--config", str(config), "--duration", "1"])
    assert result.returncode == 4
    assert "error:" in result.stderr and "not-a-dir" in result.stderr
    assert "Traceback" not in result.stderr
