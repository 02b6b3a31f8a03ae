"""Where to look between full-frame sweeps: crops around motion and known faces (pure logic)."""

from __future__ import annotations

from collections.abc import Iterable

Region = tuple[int, int, int, int]


def _expand(box: tuple[float, float, float, float], margin: int, min_size: int) -> list[int]:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    w, h = max(w + 2 * margin, min_size), max(h + 2 * margin, min_size)
    return [int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2)]


def _touch(a: list[int], b: list[int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def plan_crops(
    boxes: Iterable[tuple[float, float, float, float]],
    width: int,
    height: int,
    *,
    margin: int = 32,
    min_size: int = 160,
    max_fraction: float = 0.5,
) -> list[Region] | None:
    """Crops covering ``boxes`` with a margin (a face at a blob's edge keeps its context).

    Overlapping crops are merged. Returns None when the crops would cover more than
    ``max_fraction`` of the frame: then one full-frame run is cheaper and sees more.
    """
    rects = [_expand(b, margin, min_size) for b in boxes]
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for rect in rects:
            for other in out:
                if _touch(rect, other):
                    other[0], other[1] = min(other[0], rect[0]), min(other[1], rect[1])
                    other[2], other[3] = max(other[2], rect[2]), max(other[3], rect[3])
                    merged = True
                    break
            else:
                out.append(rect)
        rects = out
    crops: list[Region] = []
    for x0, y0, x1, y1 in rects:
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if x1 > x0 and y1 > y0:
            crops.append((x0, y0, x1 - x0, y1 - y0))
    if sum(w * h for _, _, w, h in crops) > max_fraction * width * height:
        return None
    return crops
