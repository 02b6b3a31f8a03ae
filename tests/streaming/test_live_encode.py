"""Viewer sessions on real aiortc peers (device side and viewer side, in one process): one shared
VP8 encode for all unmarked viewers, a per-viewer watermark that only its viewer gets, a late
joiner that starts on a keyframe, codec and audio negotiation.

Frames are made by the real ``privacy.framegate.FrameGate`` and published into a real ``FrameHub``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from firmware.frames import Frame
from privacy.framegate import FrameGate
from streaming.hub import FrameHub
from streaming.limits import ViewerLimits
from streaming.watermark import Watermark
from streaming.whep import SessionRefused, ViewerSessions
from testkit.webrtc import Receiver

W, H = 320, 240
CAM = "cam1"
CST = timezone(timedelta(hours=8))


def scene(seq: int) -> np.ndarray:
    """A textured picture that changes a little every frame (so the encoder has work)."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(60, 200, (H // 16, W // 16, 3), dtype=np.uint8)
    image = blocks.repeat(16, axis=0).repeat(16, axis=1)
    image[:, (seq * 4) % W] = 255
    image.flags.writeable = False
    return image


class HubFeeder:
    """Publishes frames into the hub at ``fps`` on the running loop."""

    def __init__(self, hub: FrameHub, fps: float = 20) -> None:
        self._hub = hub
        self._gate = FrameGate(release_frames=0, models={"test": "1"})
        self._fps = fps
        self.published = 0
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        seq = 0
        while True:
            image = scene(seq)
            frame = Frame(image=image, timestamp=time.monotonic(), sequence=seq)
            self._hub.publish(CAM, self._gate.stream(frame, image.copy(), []))
            self.published += 1
            seq += 1
            await asyncio.sleep(1 / self._fps)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class Viewer(Receiver):
    """A viewer's peer connection (VP8 only, unless told) that collects decoded frames."""

    async def connect(
        self,
        sessions: ViewerSessions,
        account: str,
        *,
        codecs: tuple[str, ...] = ("video/VP8",),
        audio: bool = False,
        overlay: Watermark | None = None,
    ) -> str:
        offer = await self.offer(codecs, audio=audio)
        _, answer = await sessions.open(CAM, account, offer, overlay=overlay)
        await self.accept(answer)
        return answer


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def fixed_clock() -> datetime:
    return datetime(2026, 11, 23, 10, 15, 30, tzinfo=CST)


async def _shared_encode() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sessions = ViewerSessions(hub, ViewerLimits(per_camera=8, per_account=8, owner_reserve=0))
    feeder = HubFeeder(hub)
    viewers = [Viewer() for _ in range(3)]
    try:
        for viewer in viewers:
            await viewer.connect(sessions, "family")
        for viewer in viewers:
            for _ in range(10):
                image = await viewer.frame()
            assert image.shape == (H, W, 3)
            assert diff(image, scene(0)) < 25  # the picture, not noise or the slate
        encoder = sessions.encoder(CAM)
        assert encoder.subscribers == 3
        published_before, encoded_before = feeder.published, encoder.frames_encoded
        await asyncio.sleep(2)
        published = feeder.published - published_before
        encoded = encoder.frames_encoded - encoded_before
        # one encode per published frame, not one per viewer (3 viewers would make it ~3x)
        assert 0.5 * published <= encoded <= 1.1 * published + 2, (published, encoded)
        # on one thread of the encoder's own (one malloc arena for its buffers)
        assert [t.name for t in threading.enumerate()].count(f"vp8-{CAM}_0") == 1

        # a late joiner starts decoding at once: it is sent a keyframe first
        late = Viewer()
        await late.connect(sessions, "late")
        started = time.monotonic()
        image = await late.frame(timeout=5)
        assert diff(image, scene(0)) < 25
        assert time.monotonic() - started < 3
        viewers.append(late)

        await sessions.close_camera(CAM, "test over")
        assert encoder.subscribers == 0 and len(sessions) == 0
        await asyncio.sleep(0.5)  # an encode in flight finishes, then the thread ends
        assert not any(t.name.startswith("vp8-") for t in threading.enumerate())
    finally:
        await feeder.stop()
        for viewer in viewers:
            await viewer.close()


def test_viewers_share_one_encode_and_late_joiners_start_on_a_keyframe() -> None:
    asyncio.run(_shared_encode())


async def _watermarks() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sessions = ViewerSessions(hub, ViewerLimits(per_camera=8, per_account=8, owner_reserve=0))
    feeder = HubFeeder(hub)
    plain, mum, dad = Viewer(), Viewer(), Viewer()
    try:
        await plain.connect(sessions, "owner")
        await mum.connect(sessions, "mum", overlay=Watermark("viewer 1a2b3c", fixed_clock))
        await dad.connect(sessions, "dad", overlay=Watermark("viewer 9f8e7d", fixed_clock))
        images = {}
        for name, viewer in (("plain", plain), ("mum", mum), ("dad", dad)):
            for _ in range(8):
                images[name] = await viewer.frame()
        reference = scene(0)
        marks = {"mum": "viewer 1a2b3c", "dad": "viewer 9f8e7d"}

        def closer_to_mark(image: np.ndarray, label: str) -> bool:
            """On the text's strokes, is ``image`` nearer the marked picture than the plain?"""
            expected = Watermark(label, fixed_clock)(reference)
            strokes = np.abs(expected.astype(np.int16) - reference).max(axis=2) > 60
            to_mark = diff(image[strokes], expected[strokes])
            return to_mark < diff(image[strokes], reference[strokes])

        for name, label in marks.items():
            assert closer_to_mark(images[name], label), name
            assert not closer_to_mark(images["plain"], label)
        assert not closer_to_mark(images["mum"], marks["dad"])
        assert not closer_to_mark(images["dad"], marks["mum"])
        # the rest of the picture stays watchable
        middle = slice(60, 180)
        assert diff(images["mum"][middle], reference[middle]) < 25
        # the marked sessions are encoded for themselves: the shared encoder has one subscriber
        assert sessions.encoder(CAM).subscribers == 1
    finally:
        await feeder.stop()
        await sessions.close_all("test over")
        for viewer in (plain, mum, dad):
            await viewer.close()


def test_watermark_reaches_only_its_viewer() -> None:
    asyncio.run(_watermarks())


def test_watermark_text_and_its_limits() -> None:
    mark = Watermark("viewer 1a2b3c", fixed_clock)
    assert mark.text() == "viewer 1a2b3c 2026-11-23 10:15:30"
    image = scene(0)
    marked = mark(image)
    assert not image.flags.writeable and marked is not image
    assert np.array_equal(image, scene(0)), "the watermark drew on the shared frame"
    changed = np.any(marked != image, axis=2)
    assert changed[H - 30 :, :160].any() and changed[:30, W - 160 :].any()  # two corners
    assert changed.mean() < 0.1  # the picture is not covered
    with pytest.raises(ValueError):
        Watermark("家长 1", fixed_clock)
    with pytest.raises(ValueError):
        Watermark("viewer\n1", fixed_clock)


async def _negotiation() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sessions = ViewerSessions(hub)
    h264_only = Viewer()
    with_audio = Viewer()
    try:
        with pytest.raises(SessionRefused) as refused:
            await sessions.open(CAM, "x", await h264_only.offer(("video/H264",)))
        assert refused.value.status == 400 and refused.value.code == "unsupported_codec"
        assert len(sessions) == 0
        answer = await with_audio.connect(sessions, "y", audio=True)
        audio = answer[answer.index("m=audio") :]
        video = answer[answer.index("m=video") : answer.index("m=audio")]
        assert "a=inactive" in audio and "a=sendrecv" not in audio and "a=recvonly" not in audio
        assert "a=sendonly" in video and "VP8" in video
        assert "H264" not in video
    finally:
        await sessions.close_all("test over")
        await h264_only.close()
        await with_audio.close()


def test_codec_and_audio_negotiation() -> None:
    asyncio.run(_negotiation())


async def _keyframe_on_request() -> None:
    hub = FrameHub(asyncio.get_running_loop())
    sessions = ViewerSessions(hub)
    feeder = HubFeeder(hub, fps=20)
    viewer = Viewer()
    try:
        await viewer.connect(sessions, "owner")
        await viewer.frame()
        encoder = sessions.encoder(CAM)
        encoded = await encoder.next(-1)
        while not encoded.keyframe:  # start just after a periodic keyframe
            encoded = await encoder.next(encoded.sequence)
        await asyncio.sleep(0.3)
        # the viewer reports picture loss (RTCP PLI), as a browser or the relay does
        receiver = viewer.pc.getReceivers()[0]
        ssrc = receiver.getSynchronizationSources()[0].source
        await receiver._send_rtcp_pli(ssrc)
        asked = time.monotonic()
        encoded = await encoder.next(encoded.sequence)
        while not encoded.keyframe:
            encoded = await encoder.next(encoded.sequence)
        # well before the next periodic keyframe (1 s after the last one, ~0.7 s from here)
        assert time.monotonic() - asked < 0.45
    finally:
        await feeder.stop()
        await sessions.close_all("test over")
        await viewer.close()


def test_a_viewers_keyframe_request_reaches_the_shared_encoder() -> None:
    asyncio.run(_keyframe_on_request())
