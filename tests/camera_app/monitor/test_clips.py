"""Fragmented MP4 clips survive a cut-off write; recovery and retention act on real files."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from camera_app.config.storage import StorageConfig
from camera_app.monitor.clipwriter import ClipWriter, probe_clip
from camera_app.monitor.preroll import KeptFrame
from camera_app.monitor.store import EventStore
from camera_app.monitor.upkeep import RetentionSweeper, recover_interrupted
from firmware.db import open_database
from firmware.frames import Frame
from firmware.paths import StoragePaths
from testkit.media import decode_frames, scene_background

FPS = 15


def _write_clip(path: Path, frames: int, fragment_s: float = 1.0, close: bool = True) -> ClipWriter:
    bg = scene_background(320, 240)
    writer = ClipWriter(path, 320, 240, FPS, fragment_s=fragment_s, preset="ultrafast")
    for i in range(frames):
        img = bg.copy()
        img[100:140, i * 4 : i * 4 + 40] = 255
        writer.write(Frame(img, 50.0 + i / FPS, i))
    if close:
        info = writer.close()
        assert info.frames == frames
    return writer


def test_clip_frame_count_and_duration(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    _write_clip(path, 45)
    frames, duration = decode_frames(path)
    assert frames == 45
    assert abs(duration - 3.0) < 0.1
    assert path.read_bytes()[4:8] == b"ftyp"
    assert b"moof" in path.read_bytes()  # fragmented


def test_pre_roll_frames_kept_as_i420_encode_as_well_as_bgr(tmp_path: Path) -> None:
    """Pre-roll frames reach the encoder as I420 planes, made as the encoder would make them
    from the BGR frames: the clip is the same as a clip of the BGR frames."""
    import av

    bg = scene_background(320, 240)
    images = []
    for i in range(10):
        img = bg.copy()
        img[100:140, i * 12 : i * 12 + 40] = (40, 200, 250)
        img.flags.writeable = False
        images.append(img)
    decodes = {}
    for kind in ("bgr", "i420"):
        path = tmp_path / f"{kind}.mp4"
        writer = ClipWriter(path, 320, 240, FPS, preset="ultrafast")
        for i, img in enumerate(images):
            frame = Frame(img, 50.0 + i / FPS, i)
            writer.write(KeptFrame.of(frame) if kind == "i420" else frame)
        assert writer.close().frames == len(images)
        with av.open(str(path)) as container:
            decodes[kind] = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    for bgr, i420, img in zip(decodes["bgr"], decodes["i420"], images, strict=True):
        assert np.array_equal(bgr, i420)
        assert np.abs(i420.astype(np.int16) - img).mean() < 6.0  # 4:2:0 on sharp edges, H.264


def test_odd_frame_size_is_cropped_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    writer = ClipWriter(path, 321, 241, FPS)
    writer.write(Frame(np.zeros((241, 321, 3), np.uint8), 0.0, 0))
    assert writer.close().frames == 1
    assert decode_frames(path)[0] == 1


def test_truncated_clip_still_plays_up_to_its_last_fragment(tmp_path: Path) -> None:
    path = tmp_path / "c.mp4"
    _write_clip(path, 60, fragment_s=1.0)  # 4 fragments of 15 frames
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])  # power cut in the middle of a fragment
    frames, _ = decode_frames(cut)
    assert 15 <= frames < 60
    info = probe_clip(cut)
    # the index counts the samples the last fragment announced; at most that one is short
    assert info is not None and frames <= info.frames <= frames + FPS


def test_unreadable_clip_probes_as_none(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    assert probe_clip(junk) is None


def test_recovery_closes_interrupted_events(tmp_path: Path) -> None:
    paths = StoragePaths(tmp_path)
    paths.create()
    store = EventStore(open_database(paths.database))
    clip = paths.clip_for("cam1", "2026-01-01", "ev1")
    clip.parent.mkdir(parents=True)
    _write_clip(clip, 40)
    store.open_event("ev1", "cam1", 1000.0, paths.relative(clip))
    empty = paths.clip_for("cam1", "2026-01-01", "ev2")
    empty.write_bytes(b"")
    store.open_event("ev2", "cam1", 2000.0, paths.relative(empty))

    assert recover_interrupted(store, paths) == 2
    ev1, ev2 = store.get("ev1"), store.get("ev2")
    assert ev1 and ev1.status == "interrupted" and ev1.clip_frames == 40
    assert ev1.ended_at is not None and ev1.ended_at > 1000.0
    assert ev2 and ev2.status == "interrupted" and ev2.clip_path is None
    assert not empty.exists()
    assert recover_interrupted(store, paths) == 0


def test_sweeper_deletes_files_and_rows_oldest_first(tmp_path: Path) -> None:
    paths = StoragePaths(tmp_path)
    paths.create()
    store = EventStore(open_database(paths.database))
    now = time.time()
    for i, age_days in enumerate([30, 3, 2, 1]):
        clip = paths.clip_for("cam1", "d", f"e{i}")
        clip.parent.mkdir(parents=True, exist_ok=True)
        clip.write_bytes(b"x" * 1000)
        store.open_event(f"e{i}", "cam1", now - age_days * 86400, paths.relative(clip))
        store.close_event(
            f"e{i}",
            ended_at=now,
            status="complete",
            end_reason="motion_ended",
            peak_motion=0.1,
            clip_path=paths.relative(clip),
            clip_frames=10,
            clip_duration_s=1.0,
            clip_bytes=1000,
        )
    store.open_event("live", "cam1", now - 40 * 86400, None)  # active: never deleted
    sweeper = RetentionSweeper(
        store, paths, StorageConfig(retention_days=14, quota_mb=2600 / 2**20)
    )
    used = sweeper.sweep(now, active_id="live", active_bytes=500)
    remaining = {e.id for e in store.recent()}
    assert remaining == {"e2", "e3", "live"}
    assert used == 2500
    assert not paths.clip_for("cam1", "d", "e0").exists()
    assert paths.clip_for("cam1", "d", "e3").exists()
