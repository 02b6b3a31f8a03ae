"""The newest captured picture, for the owner's live preview (the mask editor draws on it).

The capture loop puts every frame here (a reference, no copy: frames are read-only, with the
static privacy masks already burned in, so the preview shows what recordings show); the owner
API reads it from its own thread. Nothing here is ever written to disk.
"""

from __future__ import annotations

import threading

from firmware.frames import Frame


class LatestPicture:
    """Thread-safe holder of the newest frame."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Frame | None = None

    def put(self, frame: Frame) -> None:
        with self._lock:
            self._frame = frame

    def get(self) -> Frame | None:
        with self._lock:
            return self._frame
