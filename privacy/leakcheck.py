"""Judges on pixels whether a redacted face crop still resembles the original.

Both crops become 64x64 grey images and are split into band-pass layers (differences of
Gaussians at sigma 1, 2, 4 and 8 px): the facial detail from skin texture up to eye-, nose- and
mouth-sized structure. A face leaks when much of that detail is still there (``retention``), or
when what remains has the same structure (``corr``, which a contrast trick cannot hide). This is
the metric ``../shared/tools/score_redaction.py`` documents, implemented here so the product can
check itself without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from firmware.geometry import Box

SIZE = 64
RETENTION_LEAK = 0.5
CORR_LEAK = 0.75
_SIGMAS = (1.0, 2.0, 4.0, 8.0)
_CORR_BANDS = 3  # sigma 1, 2, 4


@dataclass(frozen=True, slots=True)
class LeakScore:
    retention: float
    corr: float

    @property
    def leaked(self) -> bool:
        return self.retention >= RETENTION_LEAK or self.corr >= CORR_LEAK


def _bands(crop: np.ndarray) -> list[np.ndarray]:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = grey.shape[:2]
    shrinking = h >= SIZE and w >= SIZE
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    img = cv2.resize(grey, (SIZE, SIZE), interpolation=interpolation).astype(np.float64)
    blurred = [cv2.GaussianBlur(img, (0, 0), s) for s in _SIGMAS]
    finer = [img, *blurred[:-1]]
    return [a - b for a, b in zip(finer, blurred, strict=True)]


def leak_score(original: np.ndarray, redacted: np.ndarray) -> LeakScore:
    """Compare two crops of the same face box (any size; both are resized)."""
    o_bands, r_bands = _bands(original), _bands(redacted)
    oo = [float((o * o).sum()) for o in o_bands]
    rr = [float((r * r).sum()) for r in r_bands]
    orr = [float((o * r).sum()) for o, r in zip(o_bands, r_bands, strict=True)]
    retention = sum(orr) / sum(oo) if sum(oo) > 1e-9 else 0.0
    k = _CORR_BANDS
    denom = (sum(oo[:k]) * sum(rr[:k])) ** 0.5
    corr = sum(orr[:k]) / denom if denom > 1e-9 else 0.0
    return LeakScore(retention=retention, corr=corr)


def crop(image: np.ndarray, box: Box) -> np.ndarray | None:
    """The part of ``box`` (truncated to whole pixels) inside ``image``, or None when less
    than 2x2 pixels of it are."""
    x, y, w, h = (int(v) for v in box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(image.shape[1], x + w), min(image.shape[0], y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return image[y0:y1, x0:x1]
