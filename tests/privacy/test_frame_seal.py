"""The ``RedactedFrame`` seal (issue 15, finding 13): a frame the gate made cannot be rebuilt,
copied or re-pointed at other pixels and still pass the frame hub, the one door into
``streaming``. Frames come from the real privacy stage; the hub is the real one."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import pickle
from collections.abc import Iterator

import numpy as np
import pytest

from privacy.frame import FrameStatus, RedactedFrame
from streaming.hub import FrameHub
from testkit.stage import always, scene_frame, scripted_stage


@pytest.fixture
def hub() -> Iterator[FrameHub]:
    loop = asyncio.new_event_loop()
    try:
        yield FrameHub(loop)
    finally:
        loop.close()


def _streamed() -> tuple[RedactedFrame, np.ndarray]:
    frame = scene_frame(0)
    out = scripted_stage(always())[0].process(frame)
    assert out.streamed
    raw = frame.image.copy()
    raw.flags.writeable = False  # as read-only as the real thing
    return out, raw


def test_a_streamed_frame_cannot_be_rebuilt_around_the_raw_image(hub: FrameHub) -> None:
    out, raw = _streamed()
    hub.publish("cam1", out)  # the genuine frame passes
    with pytest.raises(TypeError, match=r"only by privacy\.framegate\.FrameGate"):
        dataclasses.replace(out, image=raw)
    # not even as it was: a seal is good for the one frame the gate made with it
    with pytest.raises(TypeError, match=r"only by privacy\.framegate\.FrameGate"):
        dataclasses.replace(out)
    with pytest.raises(TypeError, match=r"only by privacy\.framegate\.FrameGate"):
        RedactedFrame(raw, 0.0, 1, FrameStatus.STREAMED, None, (), token=out.token)
    with pytest.raises(TypeError, match="cannot be copied"):
        pickle.dumps(out)
    assert copy.copy(out) is out and copy.deepcopy(out) is out  # immutable: a copy is itself
    assert hub.latest("cam1") is out


def test_a_frame_re_pointed_at_other_pixels_is_refused_by_the_hub(hub: FrameHub) -> None:
    out, raw = _streamed()
    assert out.sealed
    object.__setattr__(out, "image", raw)  # what no code path does, but Python allows
    assert not out.sealed
    with pytest.raises(TypeError, match="sealed"):
        hub.publish("cam1", out)
    assert hub.latest("cam1") is None
