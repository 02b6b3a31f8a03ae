"""The per-viewer watermark of kindergarten streams: the viewer's account id and the time.

A parent who records or forwards the stream of other people's children can be traced: every
frame the parent receives carries their account id and the local time, burned into the pixels
(not metadata that a re-encode drops). It is drawn twice, bottom-left and top-right, so cropping
one corner away keeps the other, and semi-transparent so the picture stays watchable. The text
layer is rendered once per second (the text changes once a second) and blended into a copy of
each frame.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_ALPHA = 0.6  # how much of the text shows over the picture


class Watermark:
    """An overlay for :class:`streaming.track.RedactedVideoTrack`; ASCII ``label`` only."""

    def __init__(self, label: str, now: Callable[[], datetime]) -> None:
        if not label.isascii() or not label.isprintable():
            raise ValueError("a watermark label must be printable ASCII")
        self.label = label
        self._now = now
        self._key: tuple[str, int, int] | None = None
        self._mask: np.ndarray | None = None  # where the text is
        self._ink: np.ndarray | None = None  # its colour there (white fill, black outline)

    def text(self) -> str:
        return f"{self.label} {self._now():%Y-%m-%d %H:%M:%S}"

    def __call__(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        text = self.text()
        if self._key != (text, width, height):
            self._mask, self._ink = _render(text, width, height)
            self._key = (text, width, height)
        assert self._mask is not None and self._ink is not None
        out = image.copy()
        blended = (1 - _ALPHA) * out[self._mask] + _ALPHA * self._ink[self._mask]
        out[self._mask] = blended.astype(np.uint8)
        return out


def _render(text: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    scale = max(0.4, width / 1400)
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    margin = max(4, th // 2)
    ink = np.zeros((height, width, 3), np.uint8)
    corners = [(margin, height - margin - base), (width - tw - margin, margin + th)]
    for x, y in corners:
        cv2.putText(ink, text, (x, y), _FONT, scale, (1, 1, 1), thick + 2, cv2.LINE_AA)
    mask = np.asarray(ink.any(axis=2), dtype=bool)
    ink[mask] = 0  # the outline is black
    for x, y in corners:
        cv2.putText(ink, text, (x, y), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return mask, ink
