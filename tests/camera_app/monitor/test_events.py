"""Event lifecycle hysteresis and the pre-roll buffer (pure logic, frame timestamps only)."""

from __future__ import annotations

import numpy as np

from camera_app.config.events import EventsConfig
from camera_app.monitor.events import EndReason, EventTracker, Transition
from camera_app.monitor.preroll import PreRollBuffer
from firmware.frames import Frame
from firmware.masks import PrivacyMasker

FPS = 10.0


def _feed(tracker: EventTracker, flags: list[bool], t0: float = 0.0):
    changes = []
    for i, flag in enumerate(flags):
        change = tracker.update(t0 + i / FPS, flag)
        if change:
            changes.append((i, change))
    return changes


def test_needs_consecutive_frames_to_start() -> None:
    tracker = EventTracker(EventsConfig(trigger_frames=3, post_roll_s=1.0))
    assert _feed(tracker, [True, True, False, True, False, True, True, False]) == []
    changes = _feed(tracker, [True, True, True], t0=10.0)
    assert [(i, c.transition) for i, c in changes] == [(2, Transition.START)]
    assert changes[0][1].since == 10.0  # the event starts at the first frame of the run


def test_ends_after_post_roll_without_motion_and_bridges_short_pauses() -> None:
    tracker = EventTracker(EventsConfig(trigger_frames=2, post_roll_s=1.0))
    flags = [True] * 5 + [False] * 8 + [True] * 3 + [False] * 12
    changes = _feed(tracker, flags)
    assert [c.transition for _, c in changes] == [Transition.START, Transition.END]
    end_index, end = changes[1]
    assert end.reason is EndReason.MOTION_ENDED
    assert end_index == 15 + 10  # last motion at frame 15, then post_roll_s (10 frames)


def test_max_length_splits_continuous_motion() -> None:
    tracker = EventTracker(EventsConfig(trigger_frames=2, post_roll_s=1.0, max_length_s=5.0))
    changes = _feed(tracker, [True] * 120)
    kinds = [(c.transition, c.reason) for _, c in changes]
    assert kinds[:3] == [
        (Transition.START, None),
        (Transition.END, EndReason.MAX_LENGTH),
        (Transition.START, None),
    ]
    # the next event starts on (and at) the frame right after the split: no gap, no overlap
    assert changes[2][0] == changes[1][0] + 1
    assert changes[2][1].since == changes[2][1].at


def test_stop_ends_an_active_event() -> None:
    tracker = EventTracker(EventsConfig(trigger_frames=1))
    assert tracker.stop(0.0) is None
    _feed(tracker, [True])
    change = tracker.stop(1.0)
    assert change is not None and change.reason is EndReason.SHUTDOWN
    assert not tracker.active


def _frame(ts: float, seq: int) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), ts, seq)


def test_preroll_keeps_only_its_window_and_bound() -> None:
    buf = PreRollBuffer(seconds=1.0, max_frames=100)
    for i in range(50):
        buf.push(_frame(i / FPS, i))
    assert [f.sequence for f in buf.since(4.5)] == [45, 46, 47, 48, 49]
    assert 10 <= len(buf) <= 11  # about one second at 10 fps

    small = PreRollBuffer(seconds=10.0, max_frames=4)
    for i in range(10):
        small.push(_frame(i / FPS, i))
    assert [f.sequence for f in small.since(0)] == [6, 7, 8, 9]


def test_preroll_keeps_frames_as_i420_and_gives_them_back() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    image[:] = image[::2, ::2].repeat(2, 0).repeat(2, 1)  # smooth chroma: I420 keeps it
    image.flags.writeable = False
    buf = PreRollBuffer(seconds=10.0, max_frames=10)
    buf.push(Frame(image, 1.0, 7))
    (kept,) = buf.since(0)
    assert kept.pixels.nbytes == image.nbytes // 2
    back = kept.frame()
    assert (back.timestamp, back.sequence, back.image.shape) == (1.0, 7, image.shape)
    assert not back.image.flags.writeable
    assert np.abs(back.image.astype(np.int16) - image).mean() < 3.0

    odd = Frame(np.zeros((3, 5, 3), np.uint8), 2.0, 8)  # no I420 layout: kept as it is
    buf.push(odd)
    assert buf.since(2.0)[0].frame().image is odd.image


def test_preroll_remask_burns_the_mask_into_kept_frames() -> None:
    image = np.full((48, 64, 3), 200, np.uint8)
    image.flags.writeable = False
    buf = PreRollBuffer(seconds=10.0, max_frames=10)
    buf.push(Frame(image, 1.0, 3))
    buf.remask(PrivacyMasker([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]]))
    (kept,) = buf.since(0)
    back = kept.frame()
    assert back.sequence == 3
    assert back.image[:, :28].max() <= 20  # the masked half is black (within I420 rounding)
    assert back.image[:, 36:].min() >= 190
