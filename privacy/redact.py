"""Redaction that defeats recognition, kept local to the face so the scene stays watchable."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

Region = tuple[int, int, int, int]

_MIN_MARGIN = 8  # px on each side


def grow(box: tuple[float, float, float, float], factor: float, width: int, height: int) -> Region:
    """Scale a face box about its centre (by at least a few pixels on each side), reaching further
    up (hair and forehead are often outside detector boxes), clipped to the frame."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    # Small faces' boxes are off by several pixels: give them a margin of at least _MIN_MARGIN.
    nw, nh = max(w * factor, w + 2 * _MIN_MARGIN), max(h * factor, h + 2 * _MIN_MARGIN)
    x0 = max(0, int(np.floor(cx - nw / 2)))
    y0 = max(0, int(np.floor(cy - nh * 0.6)))
    x1 = min(width, int(np.ceil(cx + nw / 2)))
    y1 = min(height, int(np.ceil(cy + nh * 0.5)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def redact(
    image: np.ndarray, regions: Iterable[Region], method: str, rng: np.random.Generator
) -> None:
    """Redact ``regions`` of ``image`` in place.

    ``fill`` paints a solid block in the region's mean colour: nothing of the
    face is left to recognise (the reference leak judge rates flat fills 0 % leaked), and the mean
    colour keeps it from glaring in the scene. ``pixelate`` keeps 4 blocks across the region and
    adds noise, so no eye/nose/mouth-sized structure survives (a 6-block pixelation already
    leaks for some faces under the judge).
    """
    for x, y, w, h in regions:
        if w <= 0 or h <= 0:
            continue
        roi = image[y : y + h, x : x + w]
        if method == "pixelate":
            blocks = cv2.resize(roi, (4, max(1, round(4 * h / w))), interpolation=cv2.INTER_AREA)
            noisy = blocks.astype(np.int16) + rng.integers(-12, 13, blocks.shape)
            blocks = np.clip(noisy, 0, 255).astype(np.uint8)
            roi[:] = cv2.resize(blocks, (w, h), interpolation=cv2.INTER_NEAREST)
        else:
            roi[:] = np.asarray(cv2.mean(roi)[:3], dtype=np.float64).round().astype(np.uint8)
