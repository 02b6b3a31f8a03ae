"""Masks saved while the device runs, in-process: the capture feed burns the new privacy masks
into every frame handed out after the save (queued ones too), and the pipeline, on its own
thread, masks the pre-roll it keeps and ignores motion in the new motion masks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import yaml

from camera_app.config import load_config
from camera_app.masks import Masks, MaskSettings
from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.monitor.store import EventStore
from firmware.capture import CaptureFeed
from firmware.capture.synthetic import SyntheticSource
from firmware.configbase import NamedPolygon
from firmware.db import open_database
from firmware.frames import Frame
from firmware.paths import StoragePaths
from testkit.clock import FakeClock
from testkit.media import scene_background

FPS = 10
W, H = 320, 240
RED = (0, 0, 255)
LEFT_HALF = NamedPolygon(name="left", points=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)])
LOWER_RIGHT = NamedPolygon(name="road", points=[(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)])


def _settings(tmp_path: Path, feed: CaptureFeed | None = None) -> tuple[MaskSettings, Path]:
    data = tmp_path / "data"
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "capture": {"fps": FPS, "width": W, "height": H},
                "events": {"trigger_frames": 2, "pre_roll_s": 1, "post_roll_s": 1},
                "recording": {"preset": "ultrafast"},
                "storage": {"data_dir": str(data), "min_free_mb": 0},
            }
        )
    )
    config = load_config(path)
    StoragePaths(data).create()
    clock = FakeClock(1_800_000_000.0)
    return MaskSettings(config, StoragePaths(data).database, clock, feed=feed), path


def _masked(image: np.ndarray) -> bool:
    return bool(np.all(image[:, : W // 2 - 1] == RED))


def test_a_save_masks_every_frame_the_feed_hands_out_after_it(tmp_path: Path) -> None:
    # not realtime: the feed fills its queue and waits, so frames sealed before the save are
    # queued when it happens
    with CaptureFeed(SyntheticSource(W, H, 30.0, realtime=False)) as feed:
        settings, _ = _settings(tmp_path, feed)
        try:
            first = feed.get(timeout=2.0)
            assert first is not None and not _masked(first.image)
            settings.save(Masks((LEFT_HALF,), (), RED), actor="owner")
            after = [feed.get(timeout=2.0) for _ in range(10)]
        finally:
            settings.close()
    assert all(f is not None and _masked(f.image) for f in after)
    assert all(f is not None and not f.image.flags.writeable for f in after)
    assert not _masked(first.image)  # a frame handed out before is not changed under its holder


def _frames(box: tuple[int, int] | None, start: int, count: int) -> Iterator[Frame]:
    """Frames as the feed hands them on (read-only), with a bright box at ``box`` (x, y)."""
    background = scene_background(W, H)
    for i in range(start, start + count):
        image = background.copy()
        if box is not None:
            x, y = box
            image[y : y + 60, x + (i % 5) * 8 : x + (i % 5) * 8 + 40] = 250
        image.flags.writeable = False
        yield Frame(image, 100.0 + i / FPS, i)


def test_the_pipeline_follows_a_save_on_its_own_thread(tmp_path: Path) -> None:
    settings, path = _settings(tmp_path)
    config = load_config(path)
    paths = StoragePaths(config.storage.data_dir)
    conn = open_database(paths.database)
    store = EventStore(conn)
    pipeline = MonitoringPipeline(config, store, paths, FakeClock(1_800_000_000.0), blocking=True)
    try:
        for frame in _frames(None, 0, 20):  # a still scene: the pre-roll fills, unmasked
            settings.apply(pipeline)
            pipeline.process(frame)
        settings.save(Masks((LEFT_HALF,), (LOWER_RIGHT,), RED), actor="owner")
        masker = settings.current.masker()
        # the left half turned red where no one moved: that is not motion
        for frame in _frames(None, 20, 5):
            settings.apply(pipeline)
            pipeline.process(masker.applied_to(frame))  # as the feed now seals them
        assert store.recent(10) == []
        # motion in the upper right: an event, whose pre-roll (1 s) reaches back to frames
        # taken before the save
        for frame in [*_frames((200, 20), 25, 15), *_frames(None, 40, 25)]:
            settings.apply(pipeline)
            pipeline.process(masker.applied_to(frame))
        assert len(store.recent(10)) == 1
        # motion only in the new motion mask (lower right): no other event
        for frame in _frames((200, 150), 65, 30):
            settings.apply(pipeline)
            pipeline.process(masker.applied_to(frame))
    finally:
        pipeline.close()
    events = store.recent(10)
    assert len(events) == 1 and events[0].clip_path is not None
    clip = paths.root / events[0].clip_path
    with av.open(str(clip)) as container:
        images = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(images) > 15  # with its pre-roll (10 frames)
    for image in images:  # red within compression error, left of the edge
        assert np.abs(image[4:-4, 4 : W // 2 - 6].astype(int) - RED).max() < 40
    conn.close()
    settings.close()
