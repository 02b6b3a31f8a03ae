"""The contract of a face detector, the detection record, and non-maximum suppression.

Detectors return every candidate above their own low score floor, not only the confident ones:
the gate needs to see the uncertain band to decide whether it can vouch for a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class DetectorError(RuntimeError):
    """A detector cannot be built (bad model file) or failed on a frame."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One face candidate."""

    box: tuple[float, float, float, float]  # x, y, w, h in frame pixels
    score: float
    source: str

    @property
    def area(self) -> float:
        return max(0.0, self.box[2]) * max(0.0, self.box[3])

    def scaled(self, factor: float) -> Detection:
        """The same detection with its box grown (or shrunk) by ``factor`` about its centre."""
        x, y, w, h = self.box
        nw, nh = w * factor, h * factor
        return Detection((x + (w - nw) / 2, y + (h - nh) / 2, nw, nh), self.score, self.source)


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a BGR uint8 HxWx3 image.

    ``detect`` returns all detections with a score at or above the detector's own low floor
    (typically 0.1-0.3), boxes in pixels of the given image, in no particular order.
    """

    name: str

    def detect(self, image: np.ndarray) -> list[Detection]: ...


def check_image(image: np.ndarray) -> None:
    """Raise :class:`DetectorError` unless ``image`` is a non-empty BGR uint8 HxWx3 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise DetectorError(f"expected a uint8 numpy image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise DetectorError(f"expected a non-empty HxWx3 BGR image, got shape {image.shape}")


def clip_box(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[float, float, float, float] | None:
    """``box`` clipped to the frame, or None when nothing of it is inside."""
    x0, y0 = max(0.0, box[0]), max(0.0, box[1])
    x1, y1 = min(float(width), box[0] + box[2]), min(float(height), box[1] + box[3])
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


def nms(
    detections: Iterable[Detection], iou: float = 0.4, *, contain: float | None = None
) -> list[Detection]:
    """Greedy non-maximum suppression, highest score first; the survivors keep their own box,
    score and source, so a merged group reports its maximum score.

    With ``contain``, a lower-scored box that lies inside a kept box for at least that fraction of
    its own area is dropped too (fragments of a face cut by a tile edge); a bigger box around a
    kept one is never dropped that way, so suppression never shrinks the area covered.
    """
    dets: Sequence[Detection] = sorted(detections, key=lambda d: d.score, reverse=True)
    if len(dets) < 2:
        return list(dets)
    boxes = np.array([d.box for d in dets], dtype=np.float64)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    areas = np.clip(boxes[:, 2], 0, None) * np.clip(boxes[:, 3], 0, None)
    alive = np.ones(len(dets), dtype=bool)
    keep: list[Detection] = []
    for i in range(len(dets)):
        if not alive[i]:
            continue
        keep.append(dets[i])
        alive[i] = False
        rest = np.flatnonzero(alive)
        if rest.size == 0:
            break
        iw = np.clip(np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]), 0, None)
        ih = np.clip(np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        drop = inter >= iou * np.maximum(union, 1e-9)
        if contain is not None:
            drop |= inter >= contain * np.maximum(areas[rest], 1e-9)
        alive[rest[drop]] = False
    return keep
