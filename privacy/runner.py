"""Runs the face detectors on a worker thread with a deadline, so a slow or hung detector can
delay no frame by more than the deadline and is never waited on twice."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from firmware.geometry import PixelBox
from privacy.detect.base import Detection, FaceDetector
from privacy.frame import WithholdReason

log = logging.getLogger(__name__)

_PRIMING_RUNS = 2  # CenterFace (onnxruntime, dynamic shapes) reaches its speed on the third run


@dataclass(frozen=True, slots=True)
class DetectionOutcome:
    """Detections for one frame, or why there are none (``failure`` set)."""

    detections: tuple[Detection, ...]
    failure: WithholdReason | None
    elapsed_s: float
    ran: tuple[str, ...] = ()  # detectors that ran on the whole frame


class DetectorRunner:
    """Runs detector ``i`` on the whole of every ``every[i]``-th frame, and on the frames between
    on crops where people move or faces were (new faces come in with motion).

    Detections of all detectors are kept side by side, not suppressed against each other: for
    redaction the union of their boxes is what counts. The call waits at most ``deadline_s``. A
    run that overshoots is left to finish in the background and its result thrown away (it
    describes an old frame); until it finishes, further frames are not even submitted and come
    back as ``detector_lag``.
    """

    def __init__(self, schedule: Sequence[tuple[FaceDetector, int]], deadline_s: float) -> None:
        if not schedule:
            raise ValueError("the privacy stage needs at least one face detector")
        self._schedule = tuple(schedule)
        self._deadline = deadline_s
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-detect")
        self._pending: cf.Future[list[Detection]] | None = None
        self._primed_shape: tuple[int, ...] | None = None

    def _prime(self, image: np.ndarray) -> None:
        """Run every detector untimed on a new frame size: the first inferences on a shape build
        their execution plans and take up to twice as long as the later ones. The live
        service meets this once at start; it is not the lag the deadline guards against."""
        self._primed_shape = image.shape
        detectors = [d for d, _ in self._schedule]
        try:
            for _ in range(_PRIMING_RUNS):
                self._pool.submit(self._detect_all, [(d, None) for d in detectors], image).result()
        except Exception:
            log.exception("face detector failed while warming up")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d, _ in self._schedule)

    @staticmethod
    def _detect_all(
        jobs: Sequence[tuple[FaceDetector, Sequence[PixelBox] | None]], image: np.ndarray
    ) -> list[Detection]:
        """Run each job: a detector on the whole frame (None) or on crops of it."""
        found: list[Detection] = []
        for detector, crops in jobs:
            if crops is None:
                found.extend(detector.detect(image))
                continue
            for x, y, w, h in crops:
                for d in detector.detect(np.ascontiguousarray(image[y : y + h, x : x + w])):
                    bx, by, bw, bh = d.box
                    found.append(Detection((bx + x, by + y, bw, bh), d.score, d.source))
        return found

    def run(
        self, image: np.ndarray, index: int, crops: Sequence[PixelBox] | None = ()
    ) -> DetectionOutcome:
        """Detect on frame ``index``. Detectors not due for a full-frame run look at ``crops``
        (where things move and faces were); ``None`` there means run them on the whole frame."""
        if self._pending is not None and not self._pending.done():
            return DetectionOutcome((), WithholdReason.DETECTOR_LAG, 0.0)
        if image.shape != self._primed_shape:
            self._prime(image)
        start = time.perf_counter()
        jobs: list[tuple[FaceDetector, Sequence[PixelBox] | None]] = []
        for detector, every in self._schedule:
            if index % every == 0 or crops is None:
                jobs.append((detector, None))
            elif crops:
                jobs.append((detector, crops))
        self._pending = self._pool.submit(self._detect_all, jobs, image)
        try:
            detections = self._pending.result(timeout=self._deadline)
        except cf.TimeoutError:
            log.warning("face detection missed its %.0f ms deadline", self._deadline * 1000)
            return DetectionOutcome((), WithholdReason.DETECTOR_TIMEOUT, self._deadline)
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
        detectors = [d for d, _ in self._schedule]
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
