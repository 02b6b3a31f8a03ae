"""Head boxes of people, found by the BlazePose person detector, run with LiteRT.

``pose_detection.tflite`` (the first stage of MediaPipe's BlazePose, from the same pinned
mediapipe wheel as BlazeFace) finds a person by the head and upper body: each candidate has a
score and four alignment keypoints (mid-hip, a point on the circle enclosing the body,
mid-shoulder, a point on the circle enclosing the upper body); its box is only the anchor size.
Unlike a face detector it fires on heads in profile, looking down or turned away, because it was
trained to find people, not facial features; it sees people sitting or standing, from the head
and shoulders up.

The head box is a square centred :data:`HEAD_SHIFT` upper-body radii above the mid-shoulder
along the upper-body axis, :data:`HEAD_SIZE` radii wide (both measured on faces-dev): the region
that holds the face whichever way the person turns. The model letterboxes the whole image into a
224x224 input, so a person whose head is smaller than about 1/15 of the image's longer side is
lost: run it on regions (a motion blob) or wrap it in
:class:`privacy.detect.tiled.TiledDetector` for far people.

MediaPipe's Tasks API has no task for this model (the PoseLandmarker runs it only as its first
stage, full-frame, then a heavy landmark model per person), so the raw model runs on Google's
LiteRT interpreter (``ai-edge-litert``); anchors, normalisation and box decoding follow
MediaPipe's ``pose_detection_cpu.pbtxt`` graph.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from firmware.geometry import clip
from privacy.detect.base import Detection, DetectorError, check_image, nms, ssd_anchor_centres

log = logging.getLogger(__name__)

INPUT_SIZE = 224
# SSD anchors of pose_detection_cpu.pbtxt: 5 layers, strides 8/16/32/32/32, fixed-size anchors,
# two per location per layer (aspect 1 and the interpolated scale); layers sharing a stride share
# one grid.
_STRIDES = (8, 16, 32, 32, 32)
_ANCHORS_PER_LAYER = 2
NUM_ANCHORS = 2254
_SCORE_CLIP = 100.0
# The model's box is useless as a head box: its side is the same 44.7 input pixels for every
# person (it is the anchor size). The upper-body keypoints carry the scale instead: the face
# centre lies HEAD_SHIFT upper-body radii (mid-shoulder to the upper-body circle point) from the
# mid-shoulder towards that point, and the face side is about 0.33 of the radius (medians over
# 83 matched faces of faces-dev; 10th-90th percentile 0.20-0.34 and 0.20-0.42). A head box of
# HEAD_SIZE radii holds the face and the hair, ears and back of the head around it.
HEAD_SHIFT = 0.28
HEAD_SIZE = 0.5
_UP = np.array([0.0, -1.0], np.float32)


@cache
def anchor_centres() -> np.ndarray:
    """(NUM_ANCHORS, 2) anchor centres (x, y) in [0, 1] of the model input, in output order."""
    out = ssd_anchor_centres(INPUT_SIZE, _STRIDES, _ANCHORS_PER_LAYER)
    if out.shape[0] != NUM_ANCHORS:  # pragma: no cover - a constant of the model
        raise AssertionError(f"{out.shape[0]} anchors, expected {NUM_ANCHORS}")
    return out


def letterbox(image: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """``image`` (BGR) scaled to fit INPUT_SIZE square, centred on black, as the model's RGB
    float input in [-1, 1]; returns it with the scale and the x, y padding (input pixels)."""
    height, width = image.shape[:2]
    scale = INPUT_SIZE / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    pad_x, pad_y = (INPUT_SIZE - new_w) // 2, (INPUT_SIZE - new_h) // 2
    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = (rgb.astype(np.float32) - 127.5) / 127.5
    return tensor[np.newaxis], scale, float(pad_x), float(pad_y)


class HeadDetector:
    """Head boxes of people (any pose, sitting or standing) in a BGR uint8 image.

    ``min_score`` is the floor of the detector's person score (sigmoid, 0-1) below which
    candidates are dropped; ``head_size`` is the head box's side in upper-body radii;
    ``threads`` is the interpreter's thread count. Not thread-safe: one instance serves one
    thread.
    """

    letterboxes = True  # the input is fitted into 224x224: enlarging a crop gains nothing

    def __init__(
        self,
        model_path: str | Path,
        *,
        min_score: float = 0.3,
        head_size: float = HEAD_SIZE,
        suppression_iou: float = 0.3,
        threads: int = 1,
        name: str | None = None,
    ) -> None:
        path = Path(model_path)
        self.name = name or f"head:{path.stem}"
        self.min_score = float(min_score)
        self.head_size = float(head_size)
        self.suppression_iou = float(suppression_iou)
        try:
            model = path.read_bytes()
        except OSError as exc:
            raise DetectorError(f"cannot read the head detector model {path}: {exc}") from exc
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise DetectorError(f"ai-edge-litert is not installed: {exc}") from exc
        try:
            self._interpreter = Interpreter(model_content=model, num_threads=int(threads))
            self._interpreter.allocate_tensors()
        except Exception as exc:
            raise DetectorError(f"LiteRT cannot load {path}: {exc}") from exc
        inputs = self._interpreter.get_input_details()
        outputs = {tuple(d["shape"]): d["index"] for d in self._interpreter.get_output_details()}
        if (
            len(inputs) != 1
            or tuple(inputs[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3)
            or (1, NUM_ANCHORS, 12) not in outputs
            or (1, NUM_ANCHORS, 1) not in outputs
        ):
            raise DetectorError(f"{path} is not the BlazePose person detector (pose_detection)")
        self._input = inputs[0]["index"]
        self._boxes = outputs[(1, NUM_ANCHORS, 12)]
        self._scores = outputs[(1, NUM_ANCHORS, 1)]
        self._closed = False
        log.debug("loaded %s from %s", self.name, path)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Head boxes in ``image``'s pixels, score ≥ ``min_score``, overlapping ones merged."""
        check_image(image)
        if self._closed:
            raise DetectorError(f"{self.name} is closed")
        height, width = image.shape[:2]
        tensor, scale, pad_x, pad_y = letterbox(image)
        try:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._boxes)[0]
            logits = self._interpreter.get_tensor(self._scores)[0, :, 0]
        except Exception as exc:
            raise DetectorError(f"{self.name} failed on a {width}x{height} frame: {exc}") from exc
        scores = 1.0 / (
            1.0 + np.exp(-np.clip(logits.astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP))
        )
        keep = np.flatnonzero(scores >= self.min_score)
        if keep.size == 0:
            return []
        centres = anchor_centres()[keep] * INPUT_SIZE
        values = raw[keep]
        # keypoints as offsets in input pixels from the anchor centre: values[:, 4:12] are
        # mid-hip, full-body circle point, mid-shoulder, upper-body circle point
        shoulder = centres + values[:, 8:10]
        axis = values[:, 10:12] - values[:, 8:10]
        radius = np.linalg.norm(axis, axis=1)
        up = np.where(
            (radius > 1e-3)[:, np.newaxis], axis / np.maximum(radius, 1e-3)[:, np.newaxis], _UP
        )
        head_centre = shoulder + up * (HEAD_SHIFT * radius)[:, np.newaxis]
        side = radius * self.head_size
        found: list[Detection] = []
        for (x, y), w, score in zip(head_centre, side, scores[keep], strict=True):
            if w <= 0:
                continue
            box = clip(
                (
                    float((x - w / 2 - pad_x) / scale),
                    float((y - w / 2 - pad_y) / scale),
                    float(w / scale),
                    float(w / scale),
                ),
                width,
                height,
            )
            if box is not None:
                found.append(Detection(box, float(score), self.name))
        return nms(found, self.suppression_iou)

    def close(self) -> None:
        """Release the interpreter (idempotent)."""
        if not self._closed:
            self._closed = True
            del self._interpreter

    def __enter__(self) -> HeadDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HeadDetector(name={self.name!r}, min_score={self.min_score})"
