"""Where to look between full-frame sweeps: crops around motion and known faces (pure logic)."""

from __future__ import annotations

from collections.abc import Iterable

from firmware.geometry import Box, PixelBox, area, bounding, expand, intersection, overlaps


def plan_crops(
    boxes: Iterable[Box],
    width: int,
    height: int,
    *,
    exact: Iterable[PixelBox] = (),
    margin: int = 32,
    min_size: int = 160,
    max_fraction: float = 0.5,
) -> list[PixelBox] | None:
    """Crops covering ``boxes`` with a margin (a face at a blob's edge keeps its context), and
    ``exact`` boxes as they are.

    Overlapping crops are merged. Returns None when the crops would cover more than
    ``max_fraction`` of the frame: then one full-frame run is cheaper and sees more.
    """
    rects = [expand(b, margin, min_size) for b in boxes] + list(exact)
    merged = True
    while merged:
        merged = False
        out: list[PixelBox] = []
        for rect in rects:
            for i, other in enumerate(out):
                if overlaps(rect, other):
                    out[i] = bounding(other, rect)
                    merged = True
                    break
            else:
                out.append(rect)
        rects = out
    frame = (0, 0, width, height)
    crops = [c for c in (intersection(frame, r) for r in rects) if c is not None]
    if sum(area(c) for c in crops) > max_fraction * width * height:
        return None
    return crops
