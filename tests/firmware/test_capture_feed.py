"""The capture feed: masks burned in, read-only frames, queue policy, end, errors, reconnects."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from firmware.capture import CaptureError, CaptureFeed, CaptureSource
from firmware.capture.file import FileSource
from firmware.capture.synthetic import SyntheticSource
from firmware.frames import Frame
from firmware.masks import PrivacyMasker

LEFT_HALF = [[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames, 160x120 at 25 fps, bright everywhere so masked pixels stand out."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(30):
            image = np.full((120, 160, 3), 180, np.uint8)
            image[40:80, 4 * i : 4 * i + 30] = 250
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _drain(feed: CaptureFeed, timeout: float = 5.0) -> list[Frame]:
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = feed.get(timeout=0.5)
        if frame is None:
            if feed.finished:
                break
            continue
        frames.append(frame)
    return frames


def test_frames_are_masked_read_only_and_owned(clip: Path) -> None:
    source = FileSource(clip, pacing="fast", loop=False)
    with CaptureFeed(source, PrivacyMasker(LEFT_HALF, color=(0, 0, 255))) as feed:
        frames = _drain(feed)
    assert len(frames) == 30
    for frame in frames:
        image = frame.image
        assert np.all(image[:, : round(0.5 * 159) + 1] == (0, 0, 255))
        assert image[:, -20:].min() > 120  # the right half is the picture
        assert not image.flags.writeable
        assert image.flags.owndata  # not a view into a decoder buffer
        with pytest.raises(ValueError, match="read-only"):
            image[0, 0] = 0
    assert feed.end_of_stream and feed.finished and feed.error is None


def test_without_masker_frames_are_still_read_only() -> None:
    source = SyntheticSource(160, 120, 30.0, realtime=False)
    with CaptureFeed(source, PrivacyMasker([])) as feed:
        frame = feed.get(timeout=2.0)
    assert frame is not None
    assert not frame.image.flags.writeable
    with pytest.raises(ValueError):
        frame.image[:] = 0


def test_fast_source_gets_backpressure_not_drops(clip: Path) -> None:
    source = FileSource(clip, pacing="fast", loop=False)
    with CaptureFeed(source, None, queue_size=2) as feed:
        frames = []
        while (frame := feed.get(timeout=2.0)) is not None:
            frames.append(frame)
            time.sleep(0.005)  # slower than the decoder
    assert [f.sequence for f in frames] == list(range(30))
    assert feed.dropped_by_consumer == 0
    stats = feed.stats
    assert (stats.published, stats.consumer_dropped, stats.source_dropped) == (30, 0, 0)
    assert stats.source_frames == 30


def test_realtime_source_drops_oldest_for_a_slow_consumer() -> None:
    fps = 100.0
    source = SyntheticSource(96, 72, fps, realtime=True)
    with CaptureFeed(source, None, queue_size=2) as feed:
        received = []
        for _ in range(8):
            frame = feed.get(timeout=2.0)
            assert frame is not None
            received.append(frame)
            time.sleep(0.05)  # five frame periods per frame consumed
        last = feed.get(timeout=2.0)
        assert last is not None
        # Fresh, not queued for long: a couple of frame periods old plus scheduling slack, where
        # a backlog would make it more than a second old by now.
        assert time.monotonic() - last.timestamp < 0.25
    sequences = [f.sequence for f in received]
    assert sequences == sorted(sequences)
    assert feed.dropped_by_consumer >= 5
    assert feed.stats.consumer_dropped == feed.dropped_by_consumer


def test_missing_file_is_final(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    feed = CaptureFeed(FileSource(tmp_path / "missing.mp4"), None)
    with caplog.at_level(logging.ERROR, logger="firmware.capture.feed"):
        feed.start()
        assert feed.get(timeout=2.0) is None
    feed.stop()
    assert feed.finished and not feed.end_of_stream
    assert isinstance(feed.error, CaptureError)
    assert "not found" in str(feed.error)
    assert "not found" in caplog.text


class FlakyCamera(CaptureSource):
    """A test double for a live camera that fails on cue (real hardware cannot be unplugged in
    a test): every ``fail_every``-th read fails, and so does the open numbered ``fail_open``."""

    live = True
    realtime = True

    def __init__(self, fail_every: int = 5, fail_open: int = 2) -> None:
        super().__init__()
        self.name = "flaky"
        self.fail_every = fail_every
        self.fail_open = fail_open
        self.opens = 0
        self.closes = 0
        self.is_open = False
        self._reads = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens == self.fail_open:
            raise CaptureError("device busy")
        self.is_open = True

    def read(self) -> Frame:
        assert self.is_open
        self._reads += 1
        if self._reads % self.fail_every == 0:
            raise CaptureError("cable pulled")
        time.sleep(0.002)
        image = np.full((8, 8, 3), self._reads % 256, np.uint8)
        return Frame(image=image, timestamp=time.monotonic(), sequence=self._next_sequence())

    def close(self) -> None:
        self.closes += 1
        self.is_open = False


def test_live_source_reconnects_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    camera = FlakyCamera(fail_every=5)
    with caplog.at_level(logging.WARNING, logger="firmware.capture.feed"):
        with CaptureFeed(camera, None, queue_size=50, reconnect_backoff=(0.01, 0.04)) as feed:
            frames = []
            deadline = time.monotonic() + 5.0
            while len(frames) < 12 and time.monotonic() < deadline:
                if (frame := feed.get(timeout=0.5)) is not None:
                    frames.append(frame)
        assert feed.error is None
    assert len(frames) == 12
    assert feed.stats.reconnects >= 2
    assert camera.opens >= 4  # one failed re-open among them
    assert "flaky: cannot open (device busy); retrying in 0.0" in caplog.text
    assert "flaky: capture failed (cable pulled); reconnecting in 0.0" in caplog.text
    assert not camera.is_open  # closed when the feed stopped


def test_live_source_that_never_opens_is_final() -> None:
    camera = FlakyCamera(fail_open=1)
    with CaptureFeed(camera, None, reconnect_backoff=(0.01, 0.02)) as feed:
        assert feed.get(timeout=2.0) is None
    assert isinstance(feed.error, CaptureError) and "device busy" in str(feed.error)
    assert camera.opens == 1


def test_stop_is_prompt_even_during_a_long_backoff() -> None:
    camera = FlakyCamera(fail_every=1)
    feed = CaptureFeed(camera, None, reconnect_backoff=(30.0, 60.0))
    feed.start()
    time.sleep(0.1)  # the first read failed; now sleeping before reconnecting
    started = time.monotonic()
    feed.stop()
    assert time.monotonic() - started < 1.0
    assert feed.finished
    assert feed.get(timeout=5.0) is None  # returns at once, no waiting for the timeout


def test_stop_is_prompt_with_a_blocked_producer(clip: Path) -> None:
    feed = CaptureFeed(FileSource(clip, pacing="fast", loop=True), None, queue_size=1)
    feed.start()
    time.sleep(0.2)  # the queue is full and the reader waits for room
    started = time.monotonic()
    feed.stop()
    assert time.monotonic() - started < 1.0
    assert feed.finished
    assert not [t for t in threading.enumerate() if t.name.startswith("capture file:")]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        CaptureFeed(SyntheticSource(), None, queue_size=0)
    with pytest.raises(ValueError, match="reconnect_backoff"):
        CaptureFeed(SyntheticSource(), None, reconnect_backoff=(2.0, 1.0))
    feed = CaptureFeed(SyntheticSource(), None)
    feed.start()
    with pytest.raises(RuntimeError, match="already started"):
        feed.start()
    feed.stop()
