"""BlazeFace (short- or full-range) run with LiteRT, decoded as MediaPipe's face detector does.

The model file comes from ``privacy.models`` (verified by sha256). The whole image is
letterboxed into the model's square input (128x128 short range, 192x192 full range), so small
faces in a large frame are lost: wrap the detector in :class:`privacy.detect.tiled.TiledDetector`
for those.

This used to run through the MediaPipe Tasks ``FaceDetector``. Importing mediapipe and building
its graph cost the live service about 85 MB of memory and six threads for a model of 1 MB, and
LiteRT (``ai-edge-litert``) is already loaded for the head detector; so the steps of MediaPipe's
``FaceDetectorGraph`` are done here instead, each as MediaPipe does it, and the detections are
the same (scores within 1e-7, the same integer boxes, on faces-dev frames and crops):

1. the image region is padded to a square around its centre and warped into the input with
   OpenCV's bilinear ``warpPerspective`` (zero border), RGB scaled to [-1, 1];
2. SSD anchors (``SsdAnchorsCalculator``): fixed-size, at the model's strides;
3. ``TensorsToDetectionsCalculator``: sigmoid scores (logits clipped at ±100), boxes as centre
   and size offsets in input pixels from the anchor centre;
4. weighted non-maximum suppression (``NonMaxSuppressionCalculator``, IoU, WEIGHTED): each group
   of boxes overlapping the best one by more than ``suppression_iou`` becomes their
   score-weighted mean box, with the best score;
5. the letterbox projected back, and the box converted to whole pixels the way the Tasks API
   reports it (truncated; origin and size clamped to ``[0, image side]``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from firmware.geometry import clip
from privacy.detect.base import Detection, DetectorError, check_image, ssd_anchor_centres

log = logging.getLogger(__name__)

# MediaPipe's anchor layouts per input size: (strides, anchors per layer); the short-range
# model's layers each add an interpolated-scale anchor, the full-range model has one layer with
# a single anchor per cell.
_ANCHOR_LAYOUTS = {128: ((8, 16, 16, 16), 2), 192: ((4,), 1)}
_SCORE_CLIP = 100.0
_BOX_VALUES = 16  # box (4) and six keypoints (12) per anchor


class BlazeFaceDetector:
    """A BlazeFace model (``face_detection_short_range`` or ``face_detection_full_range``); build
    one per model and reuse it.

    Not thread-safe: one instance serves one thread. ``close()`` (or a ``with`` block) frees the
    interpreter.
    """

    letterboxes = True  # the input is fitted into the model's square: enlarging gains nothing

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.2,
        name: str | None = None,
        suppression_iou: float = 0.3,
    ) -> None:
        path = Path(model_path)
        self.name = name or f"blazeface:{path.stem}"
        self.min_score = float(min_score)
        self.suppression_iou = float(suppression_iou)
        try:
            model = path.read_bytes()
        except OSError as exc:
            raise DetectorError(f"cannot read BlazeFace model {path}: {exc}") from exc
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise DetectorError(f"ai-edge-litert is not installed: {exc}") from exc
        try:
            self._interpreter = Interpreter(model_content=model, num_threads=1)
            self._interpreter.allocate_tensors()
        except Exception as exc:
            raise DetectorError(f"LiteRT cannot load {path} as a face detector: {exc}") from exc
        inputs = self._interpreter.get_input_details()
        size = int(inputs[0]["shape"][1]) if len(inputs) == 1 else 0
        layout = _ANCHOR_LAYOUTS.get(size)
        anchors = ssd_anchor_centres(size, *layout) if layout is not None else None
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        if (
            anchors is None
            or tuple(inputs[0]["shape"]) != (1, size, size, 3)
            or (1, len(anchors), _BOX_VALUES) not in outputs
            or (1, len(anchors), 1) not in outputs
        ):
            raise DetectorError(f"{path} is not a BlazeFace face detection model")
        self._size = size
        self._anchors = anchors
        self._input = inputs[0]["index"]
        self._boxes = outputs[(1, len(anchors), _BOX_VALUES)]
        self._scores = outputs[(1, len(anchors), 1)]
        self._closed = False
        log.debug("loaded %s from %s", self.name, path)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR uint8 image, boxes in its pixels, score ≥ ``min_score``."""
        check_image(image)
        if self._closed:
            raise DetectorError(f"{self.name} is closed")
        height, width = image.shape[:2]
        side = float(max(width, height))  # the letterbox: a square around the image's centre
        try:
            self._interpreter.set_tensor(self._input, self._input_tensor(image, side))
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._boxes)[0]
            logits = self._interpreter.get_tensor(self._scores)[0, :, 0]
        except Exception as exc:
            raise DetectorError(f"{self.name} failed on a {width}x{height} frame: {exc}") from exc
        clipped = np.clip(logits.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)
        scores = (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)
        keep = np.flatnonzero(scores >= np.float32(self.min_score))
        if keep.size == 0:
            return []
        size = np.float32(self._size)
        centres = self._anchors[keep] + raw[keep, 0:2] / size
        half = raw[keep, 2:4] / size / np.float32(2)
        # the nose tip is keypoint 2 (eyes, nose, mouth, ears), an offset from the anchor centre
        nose = self._anchors[keep, 0:1] + raw[keep, 8:9] / size
        corners = np.concatenate([centres - half, centres + half, nose], axis=1)  # x0 y0 x1 y1 n
        out: list[Detection] = []
        for (x0, y0, x1, y1, nx), score in _weighted_nms(
            corners, scores[keep], self.suppression_iou
        ):
            box = clip(_pixel_box(x0, y0, x1, y1, width, height, side), width, height)
            if box is not None:
                turn = float((nx - (x0 + x1) / 2) / (x1 - x0)) if x1 > x0 else 0.0
                out.append(Detection(box, float(score), self.name, turn))
        return out

    def _input_tensor(self, image: np.ndarray, side: float) -> np.ndarray:
        height, width = image.shape[:2]
        cx, cy, half, size = 0.5 * width, 0.5 * height, 0.5 * side, float(self._size)
        left, top, right, bottom = cx - half, cy - half, cx + half, cy + half
        # the corner order of cv::boxPoints, which MediaPipe's converter maps from
        corners = np.array(
            [[left, bottom], [left, top], [right, top], [right, bottom]], dtype=np.float32
        )
        target = np.array([[0, size], [0, 0], [size, 0], [size, size]], dtype=np.float32)
        warp = cv2.getPerspectiveTransform(corners, target)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        square = cv2.warpPerspective(
            rgb,
            warp,
            (self._size, self._size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        tensor = square.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        return tensor[np.newaxis]

    def close(self) -> None:
        """Release the interpreter (idempotent)."""
        if not self._closed:
            self._closed = True
            del self._interpreter

    def __enter__(self) -> BlazeFaceDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(name={self.name!r}, min_score={self.min_score})"


def _weighted_nms(
    corners: np.ndarray, scores: np.ndarray, iou: float
) -> list[tuple[np.ndarray, np.float32]]:
    """MediaPipe's weighted NMS on (x0, y0, x1, y1, ...) boxes in input-normalised units (values
    after the corners, such as keypoints, are averaged along with them): the best
    remaining box and every box overlapping it by IoU > ``iou`` (itself included) become one
    box, their score-weighted mean, with the best score."""
    order = np.argsort(-scores, kind="stable")
    corners, scores = corners[order], scores[order]
    areas = (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])
    remaining = np.arange(len(scores))
    merged: list[tuple[np.ndarray, np.float32]] = []
    while remaining.size:
        best = corners[remaining[0]]
        rest = corners[remaining]
        w = np.minimum(best[2], rest[:, 2]) - np.maximum(best[0], rest[:, 0])
        h = np.minimum(best[3], rest[:, 3]) - np.maximum(best[1], rest[:, 1])
        inter = np.where((w > 0) & (h > 0), w * h, np.float32(0))
        union = areas[remaining[0]] + areas[remaining] - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1), np.float32(0))
        group = remaining[overlap > np.float32(iou)]
        weights = scores[group]
        mean = (corners[group] * weights[:, np.newaxis]).sum(axis=0) / weights.sum()
        merged.append((mean.astype(np.float32), scores[remaining[0]]))
        remaining = remaining[overlap <= np.float32(iou)]
    return merged


def _pixel_box(
    x0: float, y0: float, x1: float, y1: float, width: int, height: int, side: float
) -> tuple[float, float, float, float]:
    """A box in input-normalised units as the Tasks API reports it in the image: the letterbox
    undone, then origin and size each truncated to whole pixels and clamped to the image."""
    f32 = np.float32
    left = f32((width / 2 + (f32(x0) - f32(0.5)) * side) / width)
    top = f32((height / 2 + (f32(y0) - f32(0.5)) * side) / height)
    right = f32((width / 2 + (f32(x1) - f32(0.5)) * side) / width)
    bottom = f32((height / 2 + (f32(y1) - f32(0.5)) * side) / height)
    px = min(max(int(left * f32(width)), 0), width)
    py = min(max(int(top * f32(height)), 0), height)
    pw = min(max(int((right - left) * f32(width)), 0), width)
    ph = min(max(int((bottom - top) * f32(height)), 0), height)
    return (float(px), float(py), float(pw), float(ph))
