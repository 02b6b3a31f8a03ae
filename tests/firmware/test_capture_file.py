"""``file:`` sources on real media written by PyAV: counting, clocks, looping, pacing, errors."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from firmware.capture.base import CaptureError, EndOfStream
from firmware.capture.file import FileSource

W, H, FPS, N = 320, 240, 25, 30


def _picture(index: int) -> np.ndarray:
    image = np.full((H, W, 3), 40, dtype=np.uint8)
    image[60:120, 8 * index : 8 * index + 60] = (255, 255, 255)
    return image


def write_video(
    path: Path, frames: int = N, codec: str = "libx264", corrupt_packet: int | None = None
) -> Path:
    """Encode ``frames`` frames of a moving square; optionally replace one packet with junk."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height = W, H
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        packets = []
        for i in range(frames):
            packets += stream.encode(av.VideoFrame.from_ndarray(_picture(i), format="bgr24"))
        packets += stream.encode()
        for index, packet in enumerate(packets):
            if index == corrupt_packet:
                junk = av.Packet(b"\xff\xd8" + bytes(range(256)) * 4)
                junk.pts, junk.dts, junk.time_base = packet.pts, packet.dts, packet.time_base
                junk.stream = stream
                packet = junk
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.mp4")


def _read_all(source: FileSource) -> list:
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            frames.append(source.read())
    return frames


def test_fast_reads_every_frame_with_media_clock(video: Path) -> None:
    source = FileSource(video, pacing="fast", loop=False)
    assert not source.realtime
    started = time.monotonic()
    source.open()
    frames = _read_all(source)
    source.close()

    assert time.monotonic() - started < 2.0
    assert [f.sequence for f in frames] == list(range(N))
    assert all(f.image.shape == (H, W, 3) and f.image.dtype == np.uint8 for f in frames)
    steps = np.diff([f.timestamp for f in frames])
    assert np.allclose(steps, 1 / FPS, atol=1e-6)
    assert source.fps == pytest.approx(FPS)
    assert source.stats.frames == N and source.stats.dropped == 0
    # The square is where it was drawn (lossy codec: compare loosely).
    assert frames[5].image[90, 8 * 5 + 30].min() > 200
    assert frames[5].image[200, 300].max() < 80


def test_end_of_stream_repeats_and_close_is_idempotent(video: Path) -> None:
    source = FileSource(video, pacing="fast", loop=False)
    source.open()
    _read_all(source)
    with pytest.raises(EndOfStream):
        source.read()
    source.close()
    source.close()


def test_loop_keeps_clock_and_sequence_increasing(video: Path) -> None:
    with FileSource(video, pacing="fast", loop=True) as source:
        frames = [source.read() for _ in range(2 * N + 15)]
    stamps = [f.timestamp for f in frames]
    assert np.allclose(np.diff(stamps), 1 / FPS, atol=1e-6)  # no jump or stall at the seam
    assert [f.sequence for f in frames] == list(range(2 * N + 15))
    assert np.array_equal(frames[N].image, frames[0].image)
    assert np.array_equal(frames[2 * N + 3].image, frames[3].image)


def test_realtime_is_paced_by_the_file(video: Path) -> None:
    with FileSource(video, pacing="realtime", loop=True) as source:
        assert source.realtime
        started = time.monotonic()
        frames = [source.read() for _ in range(10)]
        elapsed = time.monotonic() - started
    assert elapsed >= 0.3  # nine frame intervals at 25 fps = 0.36 s
    assert elapsed < 3.0
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.monotonic()) < 0.5  # stamped on the monotonic clock


def test_corrupt_packet_is_skipped_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_video(tmp_path / "damaged.mkv", codec="mjpeg", corrupt_packet=10)
    source = FileSource(path, pacing="fast", loop=False)
    with caplog.at_level(logging.WARNING, logger="firmware.capture.file"):
        source.open()
        frames = _read_all(source)
    assert len(frames) == N - 1
    assert source.stats.dropped == 1
    assert [f.sequence for f in frames] == [s for s in range(N) if s != 10]  # the gap shows
    assert any("corrupt packet" in r.getMessage() for r in caplog.records)


def test_still_image_repeats_as_video(tmp_path: Path) -> None:
    path = tmp_path / "still.png"
    cv2.imwrite(str(path), _picture(3))
    with FileSource(path, pacing="fast", loop=True, fps_hint=10.0) as source:
        frames = [source.read() for _ in range(5)]
    assert all(np.array_equal(f.image, _picture(3)) for f in frames)  # PNG is lossless
    assert np.allclose(np.diff([f.timestamp for f in frames]), 0.1)
    assert [f.sequence for f in frames] == [0, 1, 2, 3, 4]
    # Each frame is its own array, so marking one read-only cannot affect the next.
    assert frames[1].image is not frames[2].image


def test_still_image_without_loop_is_one_frame(tmp_path: Path) -> None:
    path = tmp_path / "still.jpg"
    cv2.imwrite(str(path), _picture(0))
    with FileSource(path, pacing="fast", loop=False) as source:
        assert len(_read_all(source)) == 1


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="not found"):
        FileSource(tmp_path / "nope.mp4").open()


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="directory"):
        FileSource(tmp_path).open()


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CaptureError, match=r"cannot open .*garbage\.mp4 as a video"):
        FileSource(path).open()


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a video\n")
    with pytest.raises(CaptureError, match="as a video"):
        FileSource(path).open()


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    with pytest.raises(CaptureError, match="no video stream"):
        FileSource(path).open()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(video: Path, tmp_path: Path) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(video.read_bytes())
    path.chmod(0)
    with pytest.raises(CaptureError, match="not readable"):
        FileSource(path).open()


def test_bad_parameters(video: Path) -> None:
    with pytest.raises(ValueError, match="pacing"):
        FileSource(video, pacing="slow")  # type: ignore[arg-type]
    with pytest.raises(CaptureError, match="not open"):
        FileSource(video).read()
