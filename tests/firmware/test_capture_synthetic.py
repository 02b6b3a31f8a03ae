"""The ``test:`` synthetic scene: determinism, the visitor's schedule, pacing and drops."""

from __future__ import annotations

import time

import numpy as np
import pytest

from firmware.capture.base import CaptureError
from firmware.capture.synthetic import SyntheticSource


def _short_cycle(**kwargs: object) -> SyntheticSource:
    # 2 s cycle at 10 fps: frames 0-4 empty, 5-14 the visitor walks across, 15-19 empty again.
    params: dict = {
        "width": 320,
        "height": 240,
        "fps": 10.0,
        "realtime": False,
        "cycle_seconds": 2.0,
        "visit_seconds": 1.0,
        "visit_start": 0.5,
    }
    params.update(kwargs)
    return SyntheticSource(**params)


def test_frames_have_requested_shape_and_textured_background() -> None:
    with SyntheticSource(640, 480, 15.0, realtime=False) as source:
        frame = source.read()
    assert frame.image.shape == (480, 640, 3)
    assert frame.image.dtype == np.uint8
    assert frame.sequence == 0
    assert frame.image.std() > 10  # not a flat picture
    # The white frame counter in the top-left corner.
    assert (frame.image[:40, :160] == 255).all(axis=2).any()


def test_same_seed_same_pictures_other_seed_differs() -> None:
    a, b, c = _short_cycle(seed=1), _short_cycle(seed=1), _short_cycle(seed=2)
    for source in (a, b, c):
        source.open()
    frames_a = [a.read().image for _ in range(8)]
    frames_b = [b.read().image for _ in range(8)]
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b, strict=True))
    assert not np.array_equal(frames_a[0], c.read().image)


def test_visitor_walks_across_then_leaves() -> None:
    source = _short_cycle()
    source.open()
    frames = [source.read() for _ in range(40)]
    present = [source.visitor_box(f.sequence) is not None for f in frames]
    assert present == ([False] * 5 + [True] * 10 + [False] * 5) * 2

    empty = frames[2].image.astype(np.int16)
    xs = []
    for frame in frames[6:14]:
        box = source.visitor_box(frame.sequence)
        assert box is not None
        x, y, w, h = box
        changed = np.abs(frame.image.astype(np.int16) - empty).max(axis=2) > 40
        changed[:30, :140] = False  # the counter overlay changes every frame
        assert changed.sum() > 150, "the visitor should be clearly visible"
        inside = np.zeros_like(changed)
        inside[max(y, 0) : y + h, max(x, 0) : x + w] = True
        assert not (changed & ~inside).any(), "the visitor should stay inside its box"
        xs.append(x)
    assert xs == sorted(xs) and xs[-1] - xs[0] > 100  # walks left to right in the first cycle
    second = [source.visitor_box(seq)[0] for seq in range(26, 34)]  # type: ignore[index]
    assert second == sorted(second, reverse=True)  # and back in the next


def test_fast_mode_uses_virtual_clock() -> None:
    source = _short_cycle(fps=20.0)
    started = time.monotonic()
    source.open()
    frames = [source.read() for _ in range(100)]
    assert time.monotonic() - started < 2.0
    t0 = frames[0].timestamp
    assert [f.sequence for f in frames] == list(range(100))
    assert frames[-1].timestamp - t0 == pytest.approx(99 / 20.0)
    assert source.stats.dropped == 0


def test_realtime_mode_is_paced_and_counts_missed_slots() -> None:
    source = SyntheticSource(160, 120, 50.0, realtime=True)
    source.open()
    started = time.monotonic()
    frames = [source.read() for _ in range(10)]
    elapsed = time.monotonic() - started
    assert elapsed >= 0.15
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.monotonic()) < 0.5  # stamped on the monotonic clock

    time.sleep(0.2)  # the "sensor" keeps running while nobody reads
    late = source.read()
    assert late.sequence >= frames[-1].sequence + 6
    assert source.stats.dropped >= 5
    assert source.stats.frames == late.sequence + 1


def test_read_before_open_and_bad_parameters() -> None:
    with pytest.raises(CaptureError, match="not open"):
        SyntheticSource().read()
    with pytest.raises(ValueError, match="visit"):
        SyntheticSource(cycle_seconds=5.0, visit_seconds=8.0)
    with pytest.raises(ValueError, match="fps"):
        SyntheticSource(fps=0)
