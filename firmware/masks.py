"""Static privacy masks: polygons burned into every frame at capture, before anyone sees it."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from firmware.frames import Frame

Point = tuple[float, float]


def pixel_polygon(points: Sequence[Point] | np.ndarray, width: int, height: int) -> np.ndarray:
    """A normalised polygon in the pixels of a ``width x height`` frame, shaped for OpenCV's
    polygon functions (``N x 1 x 2`` int32); ``1.0`` is the last column or row."""
    scale = np.array([width - 1, height - 1], dtype=np.float64)
    return np.rint(np.asarray(points, dtype=np.float64) * scale).astype(np.int32).reshape(-1, 1, 2)


class PrivacyMasker:
    """Fills fixed polygons (a neighbour's window, a public pavement) with a solid colour.

    Coordinates are normalised to ``0..1`` of the frame width and height, so one configuration
    works at any resolution; ``x = 1.0`` is the last pixel column and ``y = 1.0`` the last row,
    so a polygon drawn to the border covers the edge pixels too. ``color`` is BGR.

    ``apply()`` paints in place; with no polygons the masker is falsy and ``apply()`` does nothing.
    A masker is not changed once made (its pixel cache only remembers the last frame size), so
    a new set of masks is a new masker, swapped in whole.
    """

    def __init__(
        self,
        polygons: Sequence[Sequence[Point]],
        color: tuple[int, int, int] = (0, 0, 0),
    ) -> None:
        checked: list[np.ndarray] = []
        for index, polygon in enumerate(polygons):
            points = np.asarray(polygon, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 3:
                raise ValueError(f"privacy mask {index}: needs at least 3 (x, y) points")
            if not np.all(np.isfinite(points)) or points.min() < 0.0 or points.max() > 1.0:
                raise ValueError(f"privacy mask {index}: coordinates must be within 0..1")
            checked.append(points)
        if len(color) != 3 or any(not 0 <= int(c) <= 255 for c in color):
            raise ValueError("privacy mask colour must be three values 0..255 (B, G, R)")
        self._polygons = checked
        self.color: tuple[int, int, int] = (int(color[0]), int(color[1]), int(color[2]))
        self._pixel_cache: tuple[tuple[int, int], list[np.ndarray]] | None = None

    def __bool__(self) -> bool:
        return bool(self._polygons)

    def __len__(self) -> int:
        return len(self._polygons)

    def pixel_polygons(self, width: int, height: int) -> list[np.ndarray]:
        """The polygons in pixel coordinates for a ``width x height`` frame (cached)."""
        cached = self._pixel_cache
        if cached is not None and cached[0] == (width, height):
            return cached[1]
        pixels = [pixel_polygon(p, width, height) for p in self._polygons]
        self._pixel_cache = ((width, height), pixels)
        return pixels

    def apply(self, image: np.ndarray) -> None:
        """Burn the polygons into ``image`` (``H x W x 3`` BGR ``uint8``) in place."""
        if not self._polygons:
            return
        height, width = image.shape[:2]
        # LINE_8 (not anti-aliased) so border pixels get the full colour, not a blend that would
        # leave a faint trace of what is behind the mask.
        cv2.fillPoly(image, self.pixel_polygons(width, height), self.color, lineType=cv2.LINE_8)

    def applied_to(self, frame: Frame) -> Frame:
        """A read-only copy of ``frame`` with the polygons burned in too (on top of whatever masks
        it already has), for frames sealed before this masker was put in force."""
        image = frame.image.copy()
        self.apply(image)
        image.flags.writeable = False
        return Frame(image=image, timestamp=frame.timestamp, sequence=frame.sequence)
