"""Axis-aligned boxes and the geometry on them, for every layer that handles boxes; and the two
checks a mask polygon needs (its area, and whether its edges cross).

A box is ``(x, y, w, h)``: the top-left corner and the size, in pixels of the frame it belongs
to. Detectors and the tracker work with sub-pixel boxes; crops, motion blobs and the regions
that were redacted are on whole pixels (:data:`PixelBox`, the same shape with ints).

The helpers keep the number type they are given where they only compare and add coordinates
(an int box stays an int box), so pixel boxes can index images directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

import numpy as np

Box = tuple[float, float, float, float]
#: A :data:`Box` on whole pixels: crops, motion blobs, redacted regions.
PixelBox = tuple[int, int, int, int]

_B = TypeVar("_B", Box, PixelBox)


def area(box: Box) -> float:
    """The area of ``box``; 0 for a box with no width or height (or a negative one)."""
    return max(0.0, box[2]) * max(0.0, box[3])


def centre(box: Box) -> tuple[float, float]:
    """The centre point ``(cx, cy)`` of ``box``."""
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def intersection(a: _B, b: _B) -> _B | None:
    """The box both ``a`` and ``b`` cover, or None when they do not overlap (touching edges or a
    zero-size box have no area in common)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def intersection_area(a: Box, b: Box) -> float:
    """The area ``a`` and ``b`` have in common (0 when they do not overlap)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def overlaps(a: Box, b: Box) -> bool:
    """True when ``a`` and ``b`` share some area (boxes that only touch do not)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def bounding(a: _B, b: _B) -> _B:
    """The smallest box holding both ``a`` and ``b``."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of ``a`` and ``b``: 1 for the same box, 0 without overlap.

    Computed in floating point on the corners, so for sub-pixel boxes the result may exceed 1 by
    a rounding error.
    """
    inter = intersection_area(a, b)
    if inter <= 0:
        return 0.0
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def covered_fraction(box: PixelBox, others: Iterable[PixelBox]) -> float:
    """The share of ``box`` covered by its largest single overlap with one of ``others``.

    A pixel box without area counts as one pixel, so the answer is 0 instead of a division by
    zero.
    """
    return max((intersection_area(box, o) for o in others), default=0) / max(1, area(box))


def centres_near(a: Box, b: Box) -> bool:
    """True when the centres are closer, on each axis, than the larger box's longer side: the
    same object that moved fast between two looks."""
    (acx, acy), (bcx, bcy) = centre(a), centre(b)
    size = max(a[2], a[3], b[2], b[3])
    return abs(acx - bcx) < size and abs(acy - bcy) < size


def clip(box: Box, width: int, height: int) -> Box | None:
    """The part of ``box`` inside a ``width`` x ``height`` frame, or None when nothing of it is
    inside (also for a box that only touches the frame's edge)."""
    return intersection((0.0, 0.0, float(width), float(height)), box)


def scale(box: Box, factor: float) -> Box:
    """``box`` grown (or shrunk) by ``factor`` about its centre."""
    x, y, w, h = box
    nw, nh = w * factor, h * factor
    return (x + (w - nw) / 2, y + (h - nh) / 2, nw, nh)


def expand(box: Box, margin: int, min_size: int) -> PixelBox:
    """``box`` with ``margin`` px added on every side, at least ``min_size`` px wide and high,
    about the same centre; corners truncated to whole pixels (not clipped to a frame)."""
    cx, cy = centre(box)
    w, h = max(box[2] + 2 * margin, min_size), max(box[3] + 2 * margin, min_size)
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    return (x0, y0, int(cx + w / 2) - x0, int(cy + h / 2) - y0)


def grow(
    box: Box,
    factor: float,
    width: int,
    height: int,
    *,
    min_margin: float = 0.0,
    up: float = 0.5,
    down: float = 0.5,
) -> PixelBox:
    """``box`` scaled by ``factor`` about its centre, on whole pixels (rounded outwards) and
    clipped to a ``width`` x ``height`` frame.

    The grown box is at least ``min_margin`` px larger than ``box`` on each side. ``up`` and
    ``down`` are the parts of the grown height above and below the centre (0.5 each: centred),
    so a box can reach further one way. A box outside the frame comes back with no area.
    """
    w, h = box[2], box[3]
    cx, cy = centre(box)
    nw, nh = max(w * factor, w + 2 * min_margin), max(h * factor, h + 2 * min_margin)
    x0 = max(0, int(np.floor(cx - nw / 2)))
    y0 = max(0, int(np.floor(cy - nh * up)))
    x1 = min(width, int(np.ceil(cx + nw / 2)))
    y1 = min(height, int(np.ceil(cy + nh * down)))
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def nms(
    boxes: Sequence[Box],
    scores: Sequence[float],
    iou_threshold: float,
    *,
    contain: float | None = None,
) -> list[int]:
    """Greedy non-maximum suppression: the indices of the boxes kept, highest score first (equal
    scores in their given order).

    A box is dropped when its IoU with a kept, higher-scored box is at least ``iou_threshold``.
    With ``contain``, a lower-scored box that lies inside a kept box for at least that fraction
    of its own area is dropped too (fragments of one object cut by a tile edge); a bigger box
    around a kept one is never dropped that way, so suppression never shrinks the area covered.
    """
    order = sorted(range(len(boxes)), key=lambda i: scores[i], reverse=True)
    if len(order) < 2:
        return order
    arr = np.array([boxes[i] for i in order], dtype=np.float64)
    x0, y0 = arr[:, 0], arr[:, 1]
    x1, y1 = x0 + arr[:, 2], y0 + arr[:, 3]
    areas = np.clip(arr[:, 2], 0, None) * np.clip(arr[:, 3], 0, None)
    alive = np.ones(len(order), dtype=bool)
    keep: list[int] = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(order[i])
        alive[i] = False
        rest = np.flatnonzero(alive)
        if rest.size == 0:
            break
        iw = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        ih = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        drop = inter >= iou_threshold * np.maximum(union, 1e-9)
        if contain is not None:
            drop |= inter >= contain * np.maximum(areas[rest], 1e-9)
        alive[rest[drop]] = False
    return keep


Point = tuple[float, float]


def polygon_area(points: Sequence[Point]) -> float:
    """The area a closed polygon encloses (shoelace formula): 0 when its points are on a line.

    For a polygon whose edges cross, the parts wound in opposite directions cancel out; check
    :func:`polygon_is_simple` first when that matters.
    """
    n = len(points)
    twice = sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
        for i in range(n)
    )
    return abs(twice) / 2


def _orientation(a: Point, b: Point, c: Point) -> int:
    cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (cross > 0) - (cross < 0)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    o1, o2 = _orientation(a, b, c), _orientation(a, b, d)
    o3, o4 = _orientation(c, d, a), _orientation(c, d, b)
    if o1 != o2 and o3 != o4:
        return True
    return (
        (o1 == 0 and _on_segment(a, b, c))
        or (o2 == 0 and _on_segment(a, b, d))
        or (o3 == 0 and _on_segment(c, d, a))
        or (o4 == 0 and _on_segment(c, d, b))
    )


def polygon_is_simple(points: Sequence[Point]) -> bool:
    """True when no two edges of the closed polygon cross or touch, other than neighbours at
    their shared corner (a figure-eight is not simple). Quadratic in the number of points,
    which is meant for the few dozen corners of a drawn mask."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # neighbours share a corner
            if _segments_meet(*edges[i], *edges[j]):
                return False
    return True
