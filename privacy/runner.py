"""Runs the face detectors on a worker thread with a deadline, so a slow or hung detector can
delay no frame by more than the deadline and is never waited on twice.

Offline (``camera-app redact``, ``privacy-bench``) there is no live deadline: a large photo takes
what it takes (bounded by ``OFFLINE_LIMIT_S`` only so that a hung detector cannot hang the tool).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from firmware.geometry import PixelBox
from privacy.detect.base import Detection, FaceDetector
from privacy.frame import WithholdReason

log = logging.getLogger(__name__)

# The first runs on a new frame size plan the inference (onnxruntime with dynamic shapes, the
# tflite delegate) and take up to twice as long as later runs: that is start-up, not the lag the
# deadline guards against, so they get this much time instead.
FIRST_RUN_LIMIT_S = 15.0
OFFLINE_LIMIT_S = 120.0
FIRST_RUNS = 3


@dataclass(frozen=True, slots=True)
class DetectionOutcome:
    """Detections for one frame, or why there are none (``failure`` set)."""

    detections: tuple[Detection, ...]
    failure: WithholdReason | None
    elapsed_s: float
    ran: tuple[str, ...] = ()  # detectors that ran on the whole frame


Plan = Sequence[PixelBox] | None  # a detector's job on a frame: crops, the whole frame, or skip


class DetectorRunner:
    """Runs each detector of the schedule on what the stage plans for it on a frame: the whole
    frame (``None``), crops of it, or nothing (no crops).

    Detections of all detectors are kept side by side, not suppressed against each other: for
    redaction the union of their boxes is what counts. The call waits at most ``deadline_s``. A
    run that overshoots is left to finish in the background and its result thrown away (it
    describes an old frame); until it finishes, further frames are not even submitted and come
    back as ``detector_lag``.
    """

    def __init__(
        self,
        detectors: Sequence[FaceDetector],
        deadline_s: float | None,
        *,
        crop_scale: float = 1.0,
    ) -> None:
        """``deadline_s`` None: offline, no live deadline. Crops are enlarged by ``crop_scale``
        before detection (small faces get more pixels: the crops are where people are), except
        for detectors that letterbox their input to a fixed size (``letterboxes = True``)."""
        if not detectors:
            raise ValueError("the privacy stage needs at least one face detector")
        self._detectors = tuple(detectors)
        self._deadline = deadline_s
        self._crop_scale = crop_scale
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-detect")
        self._pending: cf.Future[list[Detection]] | None = None
        self._shape: tuple[int, ...] | None = None
        self._runs_on_shape = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self._detectors)

    def _limit(self, image: np.ndarray) -> float:
        """How long this run may take."""
        if image.shape != self._shape:
            self._shape, self._runs_on_shape = image.shape, 0
        self._runs_on_shape += 1
        if self._deadline is None:
            return OFFLINE_LIMIT_S
        if self._runs_on_shape <= FIRST_RUNS:
            return max(self._deadline, FIRST_RUN_LIMIT_S)
        return self._deadline

    def _detect_all(
        self, jobs: Sequence[tuple[FaceDetector, Sequence[PixelBox] | None]], image: np.ndarray
    ) -> list[Detection]:
        """Run each job: a detector on the whole frame (None) or on crops of it."""
        found: list[Detection] = []
        for detector, crops in jobs:
            if crops is None:
                found.extend(detector.detect(image))
                continue
            # a detector that fits its input into a fixed size gains nothing from enlarging
            s = 1.0 if getattr(detector, "letterboxes", False) else self._crop_scale
            for x, y, w, h in crops:
                crop = image[y : y + h, x : x + w]
                if s != 1.0:
                    size = (max(1, round(w * s)), max(1, round(h * s)))
                    crop = cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR)
                for d in detector.detect(np.ascontiguousarray(crop)):
                    bx, by, bw, bh = d.box
                    box = (bx / s + x, by / s + y, bw / s, bh / s)
                    found.append(d.moved(box))
        return found

    def run(self, image: np.ndarray, plans: Sequence[Plan]) -> DetectionOutcome:
        """Run detector ``i`` as ``plans[i]`` says: on the whole frame (None), on crops, or not
        at all (no crops)."""
        if len(plans) != len(self._detectors):
            raise ValueError(f"{len(plans)} plans for {len(self._detectors)} detectors")
        if self._pending is not None and not self._pending.done():
            return DetectionOutcome((), WithholdReason.DETECTOR_LAG, 0.0)
        start = time.perf_counter()
        jobs = [(d, p) for d, p in zip(self._detectors, plans, strict=True) if p is None or p]
        if not jobs:
            return DetectionOutcome((), None, 0.0)
        limit = self._limit(image)
        self._pending = self._pool.submit(self._detect_all, jobs, image)
        try:
            detections = self._pending.result(timeout=limit)
        except cf.TimeoutError:
            log.warning("face detection missed its %.0f ms deadline", limit * 1000)
            return DetectionOutcome((), WithholdReason.DETECTOR_TIMEOUT, limit)
        except Exception:
            log.exception("face detector failed")
            return DetectionOutcome((), WithholdReason.DETECTOR_ERROR, time.perf_counter() - start)
        self._pending = None
        elapsed = time.perf_counter() - start
        ran = tuple(d.name for d, crops_ in jobs if crops_ is None)
        return DetectionOutcome(tuple(detections), None, elapsed, ran)

    def close(self) -> None:
        """Free the detectors, now and explicitly (never left to the garbage collector, which
        may run a native close on any thread, e.g. an event loop, and hang it there).

        Without a run in flight they are closed here, after the detection thread ended. A run
        still in flight (a hung detector) is not waited for: the detectors are then closed on
        the detection thread once it returns."""
        detectors = list(self._detectors)
        if self._pending is None or self._pending.done():
            self._pool.shutdown(wait=True)
            self._close_detectors(detectors)
        else:
            self._pool.submit(self._close_detectors, detectors)
            self._pool.shutdown(wait=False)

    @staticmethod
    def _close_detectors(detectors: Sequence[FaceDetector]) -> None:
        for detector in detectors:
            close = getattr(detector, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing face detector %s failed", detector.name)
