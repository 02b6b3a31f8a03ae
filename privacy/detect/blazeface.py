"""BlazeFace (short- or full-range) through the MediaPipe Tasks ``FaceDetector``.

The model file comes from ``privacy.models`` (verified by sha256); the current mediapipe wheel
only ships the runtime. The Tasks API letterboxes the whole image into the model's input
(128x128 short range, 192x192 full range), so small faces in a large frame are lost: wrap the
detector in :class:`privacy.detect.tiled.TiledDetector` for those.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from pathlib import Path

import cv2
import numpy as np

from firmware.geometry import clip
from privacy.detect.base import Detection, DetectorError, check_image

log = logging.getLogger(__name__)

_open_detectors: weakref.WeakSet[BlazeFaceDetector] = weakref.WeakSet()
_exit_hook_lock = threading.Lock()
_exit_hook_registered = False


def _close_all() -> None:
    for detector in list(_open_detectors):
        detector.close()


def _register_exit_hook() -> None:
    """Close every open detector before the interpreter stops its thread pools.

    mediapipe runs each native call on a ThreadPoolExecutor; once ``concurrent.futures`` has shut
    its pools down at exit, closing a task raises, and mediapipe's own ``__del__`` fails later
    during module teardown. Hooks registered with ``threading._register_atexit`` run before the
    pools are stopped (newest first); plain ``atexit`` would run too late.
    """
    global _exit_hook_registered
    with _exit_hook_lock:
        if _exit_hook_registered:
            return
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(_close_all)
        else:  # pragma: no cover - CPython has had the hook since 3.9
            atexit.register(_close_all)
        _exit_hook_registered = True


class BlazeFaceDetector:
    """A MediaPipe BlazeFace model run in IMAGE mode; build one per model and reuse it.

    Not thread-safe: one instance serves one thread. ``close()`` (or a ``with`` block) frees the
    native task; it is also closed at interpreter exit.
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
        try:
            model = path.read_bytes()
        except OSError as exc:
            raise DetectorError(f"cannot read BlazeFace model {path}: {exc}") from exc
        try:
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:  # pragma: no cover - mediapipe is a hard dependency
            raise DetectorError(f"mediapipe is not installed: {exc}") from exc
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model, delegate=BaseOptions.Delegate.CPU),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=self.min_score,
            min_suppression_threshold=suppression_iou,
        )
        try:
            self._task = vision.FaceDetector.create_from_options(options)
        except Exception as exc:
            raise DetectorError(f"mediapipe cannot load {path} as a face detector: {exc}") from exc
        self._closed = False
        _register_exit_hook()
        _open_detectors.add(self)
        log.debug("loaded %s from %s", self.name, path)

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Faces in a BGR uint8 image, boxes in its pixels, score ≥ ``min_score``."""
        check_image(image)
        if self._closed:
            raise DetectorError(f"{self.name} is closed")
        import mediapipe as mp

        height, width = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        try:
            result = self._task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        except Exception as exc:
            raise DetectorError(f"{self.name} failed on a {width}x{height} frame: {exc}") from exc
        out: list[Detection] = []
        for det in result.detections:
            score = max((c.score or 0.0 for c in det.categories), default=0.0)
            if score < self.min_score:
                continue
            bb = det.bounding_box
            box = clip(
                (float(bb.origin_x), float(bb.origin_y), float(bb.width), float(bb.height)),
                width,
                height,
            )
            if box is not None:
                out.append(Detection(box, float(score), self.name))
        return out

    def close(self) -> None:
        """Free the native MediaPipe task (idempotent)."""
        if not self._closed:
            self._closed = True
            _open_detectors.discard(self)
            self._task.close()

    def __enter__(self) -> BlazeFaceDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(name={self.name!r}, min_score={self.min_score})"
