"""The "privacy hold" slate sent in place of a frame the gate cannot vouch for."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


@lru_cache(maxsize=8)
def privacy_hold_slate(width: int, height: int) -> np.ndarray:
    """A read-only slate of the stream's size: it says the stream is paused, and why in general
    terms (a viewer must not learn what was in view)."""
    slate = np.full((height, width, 3), (48, 40, 36), np.uint8)
    scale = max(0.4, width / 640)
    # a padlock, drawn so it reads at any size
    cx, cy, r = width // 2, int(height * 0.36), max(8, int(28 * scale))
    cv2.ellipse(slate, (cx, cy - r), (r, r), 0, 180, 360, (200, 200, 200), max(2, int(6 * scale)))
    cv2.rectangle(
        slate, (cx - int(1.4 * r), cy - r), (cx + int(1.4 * r), cy + r), (200, 200, 200), -1
    )
    lines = [
        ("PRIVACY HOLD", 1.2 * scale, 2),
        ("The stream is paused to protect", 0.6 * scale, 1),
        ("the people in view. It resumes by itself.", 0.6 * scale, 1),
    ]
    y = int(height * 0.36) + 2 * r + int(20 * scale)
    for text, size, thick in lines:
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thick)
        y += th + int(14 * scale)
        cv2.putText(
            slate,
            text,
            ((width - tw) // 2, y),
            cv2.FONT_HERSHEY_SIMPLEX,
            size,
            (235, 235, 235),
            thick,
            cv2.LINE_AA,
        )
    slate.flags.writeable = False
    return slate
