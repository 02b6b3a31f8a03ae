"""Whether a frame can be analysed at all: darkness, blur or a covered lens, sudden scene change."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_THUMB = (80, 60)


@dataclass(frozen=True, slots=True)
class FrameQuality:
    brightness: float  # mean grey level 0..255
    sharpness: float  # variance of the Laplacian on a 160 px wide grey copy
    change: float  # mean absolute grey change against the previous frame (0 for the first)


class SceneMonitor:
    """Measures each frame on small grey copies (well under a millisecond at 640x480)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None

    def measure(self, image: np.ndarray) -> FrameQuality:
        h, w = image.shape[:2]
        small = cv2.resize(image, (160, max(1, round(160 * h / w))), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)
        change = 0.0 if self._previous is None else float(np.abs(thumb - self._previous).mean())
        self._previous = thumb
        return FrameQuality(
            brightness=float(grey.mean()),
            sharpness=float(cv2.Laplacian(grey, cv2.CV_32F).var()),
            change=change,
        )
