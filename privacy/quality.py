"""Whether a frame can be analysed at all: darkness, blur or a covered lens, sudden scene change."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_THUMB = (80, 60)
_SHIFT_CONFIDENCE = 0.2  # phase-correlation peak below this: no clear global shift
_EXPLAINED = 0.6  # the shift must remove at least 40 % of the frame-wide change


@dataclass(frozen=True, slots=True)
class FrameQuality:
    brightness: float  # mean grey level 0..255
    sharpness: float  # variance of the Laplacian on a 160 px wide grey copy
    change: float  # mean absolute grey change against the previous frame (0 for the first)
    camera_shift: float  # whole-picture shift against the previous frame, thumbnail pixels


def lift(image: np.ndarray, brightness: float, target: float = 110.0) -> np.ndarray:
    """A dark frame brightened for the face detectors (a gamma curve that brings the mean grey
    level to ``target``); the picture that is streamed stays as it was."""
    mean = min(max(brightness, 1.0), target) / 255
    gamma = np.log(target / 255) / np.log(mean)
    lut = np.clip(255 * (np.arange(256) / 255) ** gamma, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


class SceneMonitor:
    """Measures each frame on small grey copies (well under a millisecond at 640x480)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._window = cv2.createHanningWindow(_THUMB, cv2.CV_32F)
        self.grey: np.ndarray | None = None  # the last frame's 160 px wide grey copy

    def measure(self, image: np.ndarray) -> FrameQuality:
        h, w = image.shape[:2]
        small = cv2.resize(image, (160, max(1, round(160 * h / w))), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.grey = grey
        thumb = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        change = shift = 0.0
        if self._previous is not None:
            change = float(np.abs(thumb - self._previous).mean())
            shift = self._camera_shift(self._previous, thumb)
        self._previous = thumb
        return FrameQuality(
            brightness=float(grey.mean()),
            sharpness=float(cv2.Laplacian(grey, cv2.CV_32F).var()),
            change=change,
            camera_shift=shift,
        )

    def _camera_shift(self, previous: np.ndarray, current: np.ndarray) -> float:
        """How far the whole picture moved (a hand-held or panning camera), 0 if it did not.

        Phase correlation proposes a shift (on copies: OpenCV windows its inputs in place); it is
        accepted only if moving the previous frame by it explains most of the change across the
        frame. A person walking through a still scene can dominate the correlation peak, but
        shifting the whole background by their step makes the rest of the frame match worse.
        """
        (dx, dy), response = cv2.phaseCorrelate(previous.copy(), current.copy(), self._window)
        shift = float(np.hypot(dx, dy))
        if response < _SHIFT_CONFIDENCE or shift < 0.25:
            return 0.0
        shift_matrix = np.array([[1, 0, dx], [0, 1, dy]], dtype=np.float32)
        moved = cv2.warpAffine(previous, shift_matrix, _THUMB, borderMode=cv2.BORDER_REPLICATE)
        m = int(np.ceil(shift)) + 1
        if 2 * m >= min(current.shape[:2]):
            return 0.0  # half the picture in one frame is a cut (the change check's job), not a pan
        inner = (slice(m, -m), slice(m, -m))
        before = float(np.abs(current[inner] - previous[inner]).mean())
        after = float(np.abs(current[inner] - moved[inner]).mean())
        return shift if after < _EXPLAINED * before else 0.0
