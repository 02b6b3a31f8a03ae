"""The live-view benchmark's camera stand-in: its frame counter survives the device's VP8 encode
and watermark, and the real privacy stage streams its empty scene without redacting over the
counter (at 1280×720 the head detector once took the scene for a crowd and the strip for
shoulders, and no viewer could read a frame: ``make bench`` failed on its first-frame timeout).
"""

from __future__ import annotations

import asyncio
import fractions
from datetime import datetime

import av
import numpy as np
import pytest
from av.video.frame import PictureType

from bench import live_stamp
from bench.live_client import luma_strip
from bench.live_device import LiveDevice, PrivacyStages, noisy_rooms, prime_stage
from privacy.build import build_stage
from privacy.config import PrivacyConfig
from streaming.encoder import vp8_codec
from streaming.watermark import Watermark

SIZES = [(640, 480), (1280, 720)]
_CLOCK = fractions.Fraction(1, 90_000)


@pytest.mark.parametrize("marked", [False, True], ids=["plain", "watermarked"])
@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_counter_reads_after_the_devices_encode(width: int, height: int, marked: bool) -> None:
    encoder, decoder = vp8_codec(width, height), av.CodecContext.create("vp8", "r")
    mark = Watermark("viewer7", lambda: datetime(2026, 12, 7, 17, 0, 0))
    bank = noisy_rooms(width, height)
    read: list[int | None] = []
    counters = [37 * i for i in range(20)]
    for i, counter in enumerate(counters):
        image = bank[i % len(bank)].copy()
        live_stamp.stamp(image, counter)
        if marked:
            image = mark(image)
        video = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        video.pts, video.time_base = i * 6000, _CLOCK
        if i == 0:
            video.pict_type = PictureType.I
        for packet in encoder.encode(video):
            for frame in decoder.decode(packet):
                read.append(live_stamp.read(luma_strip(frame), frame.height))
    assert read == counters


def test_a_wrong_counter_is_refused_not_misread() -> None:
    image = noisy_rooms(640, 480)[0].copy()
    live_stamp.stamp(image, 1234)
    grey = np.asarray(image[..., 1])  # the strip is black and white: any channel is its luma
    assert live_stamp.read(grey) == 1234
    band = grey[-live_stamp.rows_needed(480) :]
    assert live_stamp.read(band, 480) == 1234
    grey[-live_stamp.rows_needed(480) :, -20:] = 128  # the last cell neither dark nor light
    assert live_stamp.read(grey) is None


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_privacy_stage_leaves_the_counter_of_the_empty_scene_readable(
    width: int, height: int
) -> None:
    config = PrivacyConfig()
    stage = build_stage(config, offline=True)  # no deadline: the same frames on any machine
    frames = config.sweep_frames + stage.lookahead  # every part of the picture searched
    try:
        read = prime_stage(stage, width, height, frames)  # raises if it redacts over the counter
    finally:
        stage.close()
    assert read == frames


def test_a_run_leaves_no_frame_of_its_own_in_the_kept_stage() -> None:
    """The stage is kept from run to run; a frame of an earlier run left in its lookahead would
    come out first in the next one with a higher sequence number than the new source's, and the
    hub would hold back every frame after it."""
    stages = PrivacyStages()

    async def run(seconds: float) -> list[int]:
        device = LiveDevice("privacy", 640, 480, 15, 1, stage=stages.get(640, 480))
        await device.start()
        try:
            await asyncio.sleep(seconds)
        finally:
            await device.stop()
        return sorted(device.handed)

    try:
        first = asyncio.run(run(1.5))
        second = asyncio.run(run(0.7))
    finally:
        stages.close()
    assert first and second, "the stage handed nothing on"
    assert max(second) < max(first), "a frame of the first run came out in the second"
    assert second[0] <= 2
