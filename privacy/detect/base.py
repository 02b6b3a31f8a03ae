"""The contract of a face detector, the detection record, and non-maximum suppression.

Detectors return every candidate above their own low score floor, not only the confident ones:
the gate needs to see the uncertain band to decide whether it can vouch for a frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

import numpy as np

from firmware import geometry
from firmware.errors import AppError
from firmware.geometry import Box

# The nose within this of the box centre (in box widths) is a frontal face; at _PROFILE_TURN
# the face is in profile. Frontal faces of the development sets measure under 0.1 (CenterFace
# landmarks), turned ones 0.25-0.47 (docs/privacy-detectors.md).
_FRONTAL_TURN = 0.12
_PROFILE_TURN = 0.4
_BACK_OF_HEAD = 0.8


class DetectorError(AppError, RuntimeError):
    """A detector cannot be built (bad model file) or failed on a frame."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One face candidate."""

    box: Box  # in frame pixels
    score: float
    source: str
    # where the nose is, as (nose x - box centre x) / box width: 0 for a frontal face (or a
    # detector without landmarks), about -0.4 for a face in profile looking left in the image
    turn: float = 0.0

    @property
    def area(self) -> float:
        return geometry.area(self.box)

    def scaled(self, factor: float) -> Detection:
        """The same detection with its box grown (or shrunk) by ``factor`` about its centre."""
        return replace(self, box=geometry.scale(self.box, factor))

    def moved(self, box: Box) -> Detection:
        """The same detection with ``box`` (the turn is relative to the box: it carries over)."""
        return replace(self, box=box)

    def head(self) -> Box:
        """The box widened over the back of the head when the face is turned.

        A detector boxes the face, not the head: on a face in profile the ear, hair and cheek
        behind it lie outside the box, and that is what a viewer sees of a person walking past.
        The box reaches back by up to ``_BACK_OF_HEAD`` of its width, in proportion to the turn.
        """
        x, y, w, h = self.box
        turned = (abs(self.turn) - _FRONTAL_TURN) / (_PROFILE_TURN - _FRONTAL_TURN)
        extra = w * _BACK_OF_HEAD * min(1.0, max(0.0, turned))
        if extra == 0:
            return self.box
        # the nose left of centre: the face looks left, the back of the head is on the right
        return (x, y, w + extra, h) if self.turn < 0 else (x - extra, y, w + extra, h)


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


def nms(
    detections: Iterable[Detection], iou: float = 0.4, *, contain: float | None = None
) -> list[Detection]:
    """:func:`firmware.geometry.nms` on detections: the survivors, highest score first, keep
    their own box, score and source, so a merged group reports its maximum score."""
    dets = list(detections)
    kept = geometry.nms([d.box for d in dets], [d.score for d in dets], iou, contain=contain)
    return [dets[i] for i in kept]


def ssd_anchor_centres(input_size: int, strides: tuple[int, ...], per_layer: int) -> np.ndarray:
    """(N, 2) centres (x, y) in [0, 1] of MediaPipe's fixed-size SSD anchors
    (``SsdAnchorsCalculator``), in the model's output order: layers sharing a stride share one
    grid, with ``per_layer`` anchors per cell for each of them."""
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        per_location = 0
        while layer < len(strides) and strides[layer] == stride:
            per_location += per_layer
            layer += 1
        cells = -(-input_size // stride)  # ceil
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_location)
    return np.asarray(centres, dtype=np.float32)
