"""The monitoring pipeline in-process on synthetic frames: splits, disk full, low free space."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from camera_app.config import parse_config
from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.monitor.store import EventRecord, EventStore
from firmware.clock import SystemClock
from firmware.db import open_database
from firmware.frames import Frame
from firmware.paths import StoragePaths
from testkit.media import decode_frames, scene_background

FPS = 10
W, H = 320, 240


def _frames(motion: list[bool], start: float = 100.0):
    """Frames at FPS, a box moving across the scene where ``motion`` is True."""
    bg = scene_background(W, H)
    rng = np.random.default_rng(0)
    for i, moving in enumerate(motion):
        img = np.clip(bg.astype(np.int16) + rng.integers(-3, 4, bg.shape), 0, 255).astype(np.uint8)
        if moving:
            x = (i * 7) % (W - 40)
            img[80:160, x : x + 40] = 250
        img.flags.writeable = False
        yield Frame(img, start + i / FPS, i)


def _pipeline(
    tmp_path: Path, paths_type: type[StoragePaths] = StoragePaths, **sections: dict
) -> tuple[MonitoringPipeline, EventStore, Path]:
    data = tmp_path / "data"
    config = {
        "capture": {"fps": FPS, "width": W, "height": H},
        "events": {"trigger_frames": 2, "pre_roll_s": 1, "post_roll_s": 1, "max_length_s": 5},
        "recording": {"preset": "ultrafast"},
        "storage": {"data_dir": str(data), "min_free_mb": 0},
    }
    for name, values in sections.items():
        config[name].update(values)
    paths = paths_type(data)
    paths.create()
    store = EventStore(open_database(paths.database))
    pipeline = MonitoringPipeline(parse_config(config), store, paths, SystemClock(), blocking=True)
    return pipeline, store, data


def _run(pipeline: MonitoringPipeline, motion: list[bool]) -> None:
    for frame in _frames(motion):
        pipeline.process(frame)
    pipeline.close()


def _oldest_first(store: EventStore) -> list[EventRecord]:
    return sorted(store.recent(), key=lambda e: e.started_at)


def test_long_motion_is_split_into_back_to_back_clips(tmp_path: Path) -> None:
    pipeline, store, data = _pipeline(tmp_path)
    _run(pipeline, [False] * 20 + [True] * 120 + [False] * 30)
    events = _oldest_first(store)
    assert [e.end_reason for e in events] == ["max_length", "max_length", "motion_ended"]
    # each split starts on the frame after the previous one ended: no gap, no overlap
    for before, after in itertools.pairwise(events):
        assert after.started_at - before.ended_at == pytest.approx(1 / FPS, abs=1e-6)
    for e in events:
        assert e.clip_path and decode_frames(data / e.clip_path)[0] == e.clip_frames


class FirstClipOnFullDisk(StoragePaths):
    """The first clip path is a symlink to /dev/full: every write fails with ENOSPC, exactly as
    on a full disk; later clips are ordinary files."""

    def clip_for(self, camera_id: str, day: str, event_id: str) -> Path:
        path = super().clip_for(camera_id, day, event_id)
        trap_used = self.root / "first-clip-trapped"
        if not path.is_symlink() and not trap_used.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to("/dev/full")
            trap_used.touch()
        return path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_disk_full_while_recording_is_handled(tmp_path: Path) -> None:
    pipeline, store, data = _pipeline(tmp_path, FirstClipOnFullDisk)
    _run(pipeline, [False] * 10 + [True] * 30 + [False] * 20 + [True] * 30 + [False] * 20)

    first, second = _oldest_first(store)
    assert first.status == "complete" and first.clip_path is None and first.clip_bytes == 0
    assert first.note is not None and first.note.startswith("recording stopped:")
    assert first.snapshot_path is not None
    # recording resumes for the next event once writing works again
    assert second.clip_path and decode_frames(data / second.clip_path)[0] == second.clip_frames


def test_low_free_space_indexes_events_without_clips(tmp_path: Path) -> None:
    pipeline, store, data = _pipeline(tmp_path, storage={"min_free_mb": 1e12})
    _run(pipeline, [False] * 10 + [True] * 30 + [False] * 20)
    (event,) = store.recent()
    assert event.clip_path is None and event.note == "recording skipped: less than 1e+12 MB free"
    assert event.snapshot_path and (data / event.snapshot_path).exists()
    assert not list((data / "clips").rglob("*.mp4"))


def test_recording_disabled_still_indexes_events(tmp_path: Path) -> None:
    pipeline, store, _ = _pipeline(tmp_path, recording={"enabled": False})
    _run(pipeline, [False] * 10 + [True] * 30 + [False] * 20)
    (event,) = store.recent()
    assert event.clip_path is None and event.status == "complete"


def test_clip_pre_roll_frames_match_the_captured_ones(tmp_path: Path) -> None:
    """The pre-roll is kept as I420, not BGR: the clip's first frames (from before the trigger)
    must still be the captured pictures, within H.264's tolerance."""
    import av

    motion = [False] * 20 + [True] * 20 + [False] * 20
    captured = {f.sequence: f.image for f in _frames(motion)}
    pipeline, store, data = _pipeline(tmp_path)
    _run(pipeline, motion)
    (event,) = store.recent()
    assert event.clip_path
    with av.open(str(data / event.clip_path)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    pre_roll = round(FPS * 1)  # pre_roll_s frames before the event's first motion frame
    # the event starts at the first motion frame (sequence 20): the clip begins pre_roll earlier
    first = 20 - pre_roll
    for offset in range(pre_roll + 2):
        error = np.abs(decoded[offset].astype(np.int16) - captured[first + offset]).mean()
        # H.264 at the default crf on this noisy scene: 5.0, as when the pre-roll kept BGR
        # frames; a wrong or garbled frame is far off
        assert error < 5.5, f"clip frame {offset} differs by {error:.1f} on average"
    # and it is not a near match to a neighbouring frame by accident: the moving box is there
    assert np.abs(decoded[pre_roll + 1].astype(np.int16) - decoded[0]).mean() > 1.0
