"""Writing frames to an H.264 MP4 file (offline redaction output, test and benchmark footage).

Event clips use ``camera_app.monitor.clipwriter`` instead: it adds fragmenting for power cuts and
timestamps from the capture clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np


class VideoFileWriter:
    """Encodes BGR frames at a constant rate, at exactly their size.

    Even sizes use yuv420p (what every player takes); an odd width or height cannot be
    subsampled by two, so those files are yuv444p (H.264 High 4:4:4) rather than losing a row
    or a column.
    """

    def __init__(
        self,
        path: Path,
        fps: float,
        width: int,
        height: int,
        *,
        crf: int = 16,
        preset: str = "veryfast",
    ) -> None:
        self._container = av.open(str(path), "w")
        self._stream = self._container.add_stream(
            "libx264", rate=Fraction(fps).limit_denominator(1001)
        )
        self._w, self._h = width, height
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv444p" if width % 2 or height % 2 else "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": preset}

    def write(self, image: np.ndarray) -> None:
        if image.shape[:2] != (self._h, self._w):
            raise ValueError(
                f"frame is {image.shape[1]}x{image.shape[0]}, the video {self._w}x{self._h}"
            )
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoFileWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_video(
    path: Path, frames: Iterable[np.ndarray], fps: float, *, crf: int = 16, preset: str = "veryfast"
) -> Path:
    """Encode ``frames`` (all the same size) to ``path``."""
    writer: VideoFileWriter | None = None
    try:
        for image in frames:
            if writer is None:
                writer = VideoFileWriter(
                    path, fps, image.shape[1], image.shape[0], crf=crf, preset=preset
                )
            writer.write(image)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no frames to write")
    return path
