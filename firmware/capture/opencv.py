"""``v4l2:/dev/videoN`` and ``rtsp://`` — cameras read through OpenCV's VideoCapture."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from firmware.capture.base import CaptureError, CaptureSource
from firmware.frames import Frame

logger = logging.getLogger(__name__)

_CREDENTIALS = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#]*)")
_STREAM_SCHEMES = ("rtsp://", "rtsps://")
# Anything above this from CAP_PROP_FPS is a driver placeholder, not a frame rate.
_MAX_PLAUSIBLE_FPS = 240.0


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``, safe to log or show."""
    match = _CREDENTIALS.match(url)
    if match is None or "@" not in match["netloc"]:
        return url
    host = match["netloc"].rpartition("@")[2]
    return f"{match['scheme']}***@{host}{url[match.end() :]}"


class OpenCVSource(CaptureSource):
    """A USB/V4L2 camera (``/dev/videoN``) or a network stream (``rtsp://``, ``rtsps://``).

    V4L2 devices are asked for ``width x height`` at ``fps`` in MJPG (most USB cameras only reach
    their full frame rate compressed). Streams are read over TCP through FFmpeg with open and read
    timeouts, so a dead camera fails within ``timeout`` seconds instead of hanging. Any other
    location is handed to the FFmpeg backend as is.

    A failed read raises :class:`CaptureError`; the capture feed then reconnects. Frames are
    stamped with the clock (``time.monotonic`` unless injected) on delivery; a gap of more than
    1.5 frame periods counts the frames that should have arrived in it as dropped (they also use
    up sequence numbers, so consumers see the gap). Credentials in a URL never reach ``name`` or
    the log.
    """

    live = True

    def __init__(
        self,
        location: str,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.location = location
        self.width = width
        self.height = height
        self.fps = float(fps)
        self.timeout = timeout
        self._clock = clock
        self.is_device = location.startswith("/dev/")
        self.name = f"v4l2:{location}" if self.is_device else redact_url(location)
        self._capture: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._period = 1.0 / self.fps
        self._last_timestamp: float | None = None

    def open(self) -> None:
        self.close()
        capture = self._open_device() if self.is_device else self._open_stream()
        if not capture.isOpened():
            capture.release()
            raise CaptureError(f"cannot open {self.name}")
        ok, image = capture.read()
        if not ok or image is None:
            capture.release()
            raise CaptureError(f"{self.name} opened but delivered no frame")
        reported = capture.get(cv2.CAP_PROP_FPS)
        actual_fps = reported if 0 < reported <= _MAX_PLAUSIBLE_FPS else self.fps
        self._period = 1.0 / actual_fps
        self._capture = capture
        self._first = image
        self._last_timestamp = None
        logger.info(
            "opened %s: %dx%d at %.3g fps",
            self.name,
            image.shape[1],
            image.shape[0],
            actual_fps,
        )

    def _open_device(self) -> cv2.VideoCapture:
        if not Path(self.location).exists():
            raise CaptureError(f"no such video device: {self.location}")
        capture = cv2.VideoCapture(self.location, cv2.CAP_V4L2)
        if capture.isOpened():
            # Set the format before the size: many cameras offer large sizes only in MJPG.
            if not capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG")):
                logger.debug("%s: MJPG not accepted, keeping the driver's format", self.name)
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        return capture

    def _open_stream(self) -> cv2.VideoCapture:
        if self.location.startswith(_STREAM_SCHEMES):
            # UDP loses packets (smeared frames) on Wi-Fi; TCP is the reliable default. An
            # explicit setting from the environment wins.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        timeout_ms = round(self.timeout * 1000)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            timeout_ms,
        ]
        return cv2.VideoCapture(self.location, cv2.CAP_FFMPEG, params)

    def read(self) -> Frame:
        capture = self._capture
        if capture is None:
            raise CaptureError(f"{self.name} is not open")
        if self._first is not None:
            image, self._first = self._first, None
        else:
            ok, image = capture.read()
            if not ok or image is None:
                raise CaptureError(f"{self.name}: no frame (camera unplugged or stream ended)")
        timestamp = self._clock()
        if self._last_timestamp is not None:
            gap = timestamp - self._last_timestamp
            if gap > 1.5 * self._period:
                missed = round(gap / self._period) - 1
                for _ in range(missed):
                    self._next_sequence()
                self._count_dropped(missed)
        self._last_timestamp = timestamp
        return Frame(image=image, timestamp=timestamp, sequence=self._next_sequence())

    def close(self) -> None:
        capture, self._capture = self._capture, None
        self._first = None
        if capture is not None:
            capture.release()
