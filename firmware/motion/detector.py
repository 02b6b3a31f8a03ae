"""Motion detection on a downscaled grey frame against a running-average background."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from firmware.geometry import PixelBox
from firmware.motion.config import MotionConfig

#: Learning rate under moving areas, relative to ``background_rate``.
_SLOW_LEARNING = 0.1
#: Frames a pixel may keep moving before it is taken into the background (3 s at 15 fps).
STALE_FRAMES = 45


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What one frame showed.

    ``area`` is the moving area (blobs at least ``min_area`` large) as a fraction of the watched
    part of the frame; ``boxes`` are those blobs in full-frame pixels.
    """

    motion: bool
    area: float
    boxes: tuple[PixelBox, ...] = ()
    light_change: bool = False
    warming_up: bool = False


class MotionDetector:
    """Finds moving blobs, ignoring motion masks and whole-frame light changes.

    Work is done on a small grey copy (``detect_width`` px wide) so the cost is nearly independent
    of the capture resolution. A global brightness shift (auto-exposure, a lamp) is first removed
    by comparing the frame's mean to the background's; if a large part of the frame still changed
    at once it is a light change (IR cut filter, cloud), not a visitor, and the background is
    re-learnt from this frame instead of raising an event.
    """

    def __init__(
        self,
        config: MotionConfig,
        mask_polygons: Sequence[Sequence[tuple[float, float]]],
        *,
        stale_frames: int = STALE_FRAMES,
    ) -> None:
        """``stale_frames``: how long a pixel may keep moving before it counts as background."""
        self._cfg = config
        self._stale_frames = stale_frames
        self._polygons = [list(p) for p in mask_polygons]
        self._size: tuple[int, int] | None = None
        self._background: np.ndarray | None = None
        self._moving_for: np.ndarray | None = None  # frames each pixel has been moving
        self._watch: np.ndarray | None = None  # 255 where motion counts, 0 under motion masks
        self._watched_pixels = 1
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def _prepare(self, width: int, height: int) -> None:
        dw = min(self._cfg.detect_width, width)
        dh = max(1, round(height * dw / width))
        self._size = (dw, dh)
        self._scale = width / dw
        self._build_watch()
        self._background = None

    def _build_watch(self) -> None:
        assert self._size is not None
        dw, dh = self._size
        watch = np.full((dh, dw), 255, np.uint8)
        for poly in self._polygons:
            pts = np.array([[x * (dw - 1), y * (dh - 1)] for x, y in poly], np.float32)
            cv2.fillPoly(watch, [np.round(pts).astype(np.int32)], 0)
        self._watch = watch
        self._watched_pixels = max(1, int(cv2.countNonZero(watch)))

    def set_masks(self, mask_polygons: Sequence[Sequence[tuple[float, float]]]) -> None:
        """Ignore motion in these polygons from the next frame on (the owner saved new motion
        masks). The background model is kept (see :meth:`relearn`)."""
        self._polygons = [list(p) for p in mask_polygons]
        if self._size is not None:
            self._build_watch()

    def relearn(self) -> None:
        """Take the next frame as the background (one warm-up frame, no motion): the picture
        itself changed where no one moved, e.g. a privacy mask was filled in or taken away."""
        self._background = None

    def _grey(self, image: np.ndarray) -> np.ndarray:
        assert self._size is not None
        small = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def process(self, image: np.ndarray) -> MotionResult:
        """Compare one BGR frame with the background, then let the background follow it."""
        h, w = image.shape[:2]
        if self._size is None or round(w / self._scale) != self._size[0]:
            self._prepare(w, h)
        assert self._watch is not None
        grey = self._grey(image)
        if self._background is None:
            self._background = grey.astype(np.float32)
            self._moving_for = np.zeros(grey.shape, np.uint16)
            return MotionResult(motion=False, area=0.0, warming_up=True)

        background = self._background
        shift = float(cv2.mean(grey, self._watch)[0] - cv2.mean(background, self._watch)[0])
        diff = cv2.absdiff(grey.astype(np.float32), background + shift)
        _, moving = cv2.threshold(diff, self._cfg.threshold, 255, cv2.THRESH_BINARY)
        moving = cv2.dilate(moving.astype(np.uint8), self._kernel, iterations=2)
        moving = cv2.bitwise_and(moving, self._watch)
        changed = cv2.countNonZero(moving) / self._watched_pixels
        if changed > self._cfg.light_change_fraction:
            self._background = grey.astype(np.float32)
            return MotionResult(motion=False, area=0.0, light_change=True)

        # Learn the background fast where the scene is still and slowly under moving things, so a
        # passing visitor is not learnt into it. A pixel that has moved for too long is a ghost
        # (something that was there at start-up and left) or something that stopped (a parked
        # car): it becomes background at once, else a ghost would keep itself alive.
        still = cv2.bitwise_not(moving)
        rate = self._cfg.background_rate
        cv2.accumulateWeighted(grey, background, rate, mask=still)
        cv2.accumulateWeighted(grey, background, rate * _SLOW_LEARNING, mask=moving)
        assert self._moving_for is not None
        self._moving_for = np.where(moving > 0, self._moving_for + 1, 0).astype(np.uint16)
        stale = self._moving_for > self._stale_frames
        if stale.any():
            background[stale] = grey[stale]
            self._moving_for[stale] = 0
            moving[stale] = 0
        contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_pixels = self._cfg.min_area * self._watched_pixels
        boxes: list[PixelBox] = []
        area = 0.0
        for contour in contours:
            blob = cv2.contourArea(contour)
            if blob < min_pixels:
                continue
            area += blob
            x, y, bw, bh = cv2.boundingRect(contour)
            s = self._scale
            boxes.append((int(x * s), int(y * s), int(bw * s), int(bh * s)))
        return MotionResult(
            motion=bool(boxes), area=min(1.0, area / self._watched_pixels), boxes=tuple(boxes)
        )
