"""The OpenCV backend: URL redaction, errors, and the read path on a real file via FFmpeg.

There is no V4L2 camera or RTSP server on the test machine; the read path and drop counting are
exercised by pointing the same backend at a local video file (OpenCV's FFmpeg backend, the one
RTSP uses).
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from firmware.capture.base import CaptureError
from firmware.capture.opencv import OpenCVSource, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://***@10.0.0.5:554/stream1"),
        ("rtsps://user@cam.local/live", "rtsps://***@cam.local/live"),
        ("rtsp://a:p@ss@cam/x?y=1", "rtsp://***@cam/x?y=1"),
        ("rtsp://cam.local:554/stream", "rtsp://cam.local:554/stream"),
        ("rtsp://cam.local/path@weird", "rtsp://cam.local/path@weird"),
        ("/dev/video0", "/dev/video0"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_name_never_contains_credentials() -> None:
    source = OpenCVSource("rtsp://admin:hunter2@10.0.0.5/stream")
    assert "hunter2" not in source.name and "admin" not in source.name
    assert OpenCVSource("/dev/video3").name == "v4l2:/dev/video3"


def test_missing_device() -> None:
    with pytest.raises(CaptureError, match="no such video device: /dev/video987"):
        OpenCVSource("/dev/video987").open()


def test_unreachable_stream_fails_without_leaking_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    source = OpenCVSource("rtsp://admin:hunter2@127.0.0.1:1/stream", timeout=2.0)
    with pytest.raises(CaptureError) as info:
        source.open()
    assert "hunter2" not in str(info.value)
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "rtsp_transport;tcp"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(6):
            image = np.full((120, 160, 3), 30 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_reads_frames_counts_gaps_and_fails_at_the_end(clip: Path) -> None:
    ticks = iter([0.0, 1 / 15, 2 / 15, 5 / 15, 6 / 15 + 0.01, 7 / 15])
    source = OpenCVSource(str(clip), fps=15.0, clock=lambda: next(ticks))
    assert source.live and source.realtime
    source.open()
    frames = [source.read() for _ in range(6)]
    assert [f.image.shape for f in frames] == [(120, 160, 3)] * 6
    assert [f.sequence for f in frames] == [0, 1, 2, 5, 6, 7]  # two frames missing at 5/15 s
    assert source.stats.dropped == 2
    with pytest.raises(CaptureError, match="no frame"):
        source.read()
    source.close()
    source.close()
    with pytest.raises(CaptureError, match="not open"):
        source.read()
