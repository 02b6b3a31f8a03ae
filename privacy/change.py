"""Where the picture changed since it was last searched for faces (change-driven detection).

Most of our cameras hang still: a room, an aisle, a hallway, where people sit or stand for
minutes. Searching the whole frame for faces on every frame costs the most and learns nothing
new where no pixel changed. :class:`ChangeMap` keeps, for every part of the picture, a small grey
copy of how it looked when the expensive detector last searched it, and reports the parts that
differ from that now: only those are searched again. The reference of a part moves on only when
the part is searched, so slow changes add up until they are searched too (nothing drifts past
unseen).

:func:`patch_unchanged` is the same test for one face: a face whose pixels are still what they
were when it was found is still there, so its redaction holds for as long as that stays true.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from firmware.geometry import Box, PixelBox

# Grey levels (0..255, after a 3x3 blur of the 160 px wide copy): well above sensor noise and
# compression flicker, well below a head turning or a person stepping in.
CHANGE_THRESHOLD = 12.0


class ChangeMap:
    """Compares each frame's small grey copy with the copy taken when each part was searched.

    ``small`` images are the grey copies :class:`privacy.quality.SceneMonitor` makes (160 px
    wide); boxes in and out are in frame pixels.
    """

    def __init__(self, threshold: float = CHANGE_THRESHOLD) -> None:
        self._threshold = threshold
        self._reference: np.ndarray | None = None
        self._current: np.ndarray | None = None
        self._scale = (1.0, 1.0)  # frame pixels per small pixel (x, y)

    def reset(self) -> None:
        """Forget every search: the whole picture counts as changed (after a scene change)."""
        self._reference = None

    def observe(self, small: np.ndarray, width: int, height: int) -> None:
        """The current frame (its small grey copy) and the frame's size."""
        current = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
        if self._reference is not None and self._reference.shape != current.shape:
            self._reference = None
        self._current = current
        self._scale = (width / small.shape[1], height / small.shape[0])

    @property
    def searched_before(self) -> bool:
        """False until the whole picture has been searched once (and after a reset)."""
        return self._reference is not None

    def changed(self, leave_out: Sequence[Box] = ()) -> list[PixelBox]:
        """Boxes around the parts that changed since they were searched, except those inside
        ``leave_out`` (frame pixels). Everything, when the picture was never searched."""
        current = self._require_current()
        h, w = current.shape
        if self._reference is None:
            return [self._to_frame((0, 0, w, h))]
        mask = (np.abs(current - self._reference) > self._threshold).astype(np.uint8)
        for box in leave_out:
            x0, y0, x1, y1 = self._to_small(box, inward=True)
            mask[y0:y1, x0:x1] = 0
        if not mask.any():
            return []
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        return [self._to_frame(tuple(int(v) for v in stats[i, :4])) for i in range(1, count)]

    def mark_searched(self, boxes: Sequence[PixelBox] | None) -> None:
        """The expensive detector searched ``boxes`` (frame pixels) of the current frame, or the
        whole frame (``None``): their reference becomes what they look like now."""
        current = self._require_current()
        if boxes is None or self._reference is None:
            if boxes is None:
                self._reference = current.copy()
            return
        for box in boxes:
            x0, y0, x1, y1 = self._to_small(box, inward=True)
            self._reference[y0:y1, x0:x1] = current[y0:y1, x0:x1]

    def patch(self, box: Box) -> np.ndarray:
        """The current small grey pixels under ``box`` (frame pixels), at least 2x2."""
        current = self._require_current()
        x0, y0, x1, y1 = self._to_small(box, inward=False)
        return current[y0:y1, x0:x1].copy()

    def _require_current(self) -> np.ndarray:
        if self._current is None:
            raise RuntimeError("observe() a frame first")
        return self._current

    def _to_frame(self, small_box: tuple[int, ...]) -> PixelBox:
        sx, sy = self._scale
        x, y, w, h = small_box
        return (int(x * sx), int(y * sy), int(np.ceil(w * sx)), int(np.ceil(h * sy)))

    def _to_small(self, box: Box, *, inward: bool) -> tuple[int, int, int, int]:
        """``box`` in small pixels as (x0, y0, x1, y1), clipped. ``inward`` keeps only small
        pixels wholly inside the box (what was searched); otherwise any pixel it touches, and
        at least 2x2 (a face's patch)."""
        assert self._current is not None
        h, w = self._current.shape
        sx, sy = self._scale
        x, y, bw, bh = box
        if inward:
            x0, y0 = int(np.ceil(x / sx)), int(np.ceil(y / sy))
            x1, y1 = int((x + bw) / sx), int((y + bh) / sy)
        else:
            x0, y0 = int(x / sx), int(y / sy)
            x1, y1 = int(np.ceil((x + bw) / sx)), int(np.ceil((y + bh) / sy))
            x1, y1 = max(x1, x0 + 2), max(y1, y0 + 2)
        return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def patch_unchanged(before: np.ndarray | None, now: np.ndarray) -> bool:
    """Whether a face's small grey patch is still what it was when the face was found."""
    if before is None or before.shape != now.shape or before.size == 0:
        return False
    return float(np.abs(now - before).max()) <= CHANGE_THRESHOLD
