"""Runs the face detectors on a worker thread with a deadline, so a slow or hung detector can
delay no frame by more than the deadline and is never waited on twice."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from privacy.detect.base import Detection, FaceDetector
from privacy.frame import WithholdReason

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DetectionOutcome:
    """Detections for one frame, or why there are none (``failure`` set)."""

    detections: tuple[Detection, ...]
    failure: WithholdReason | None
    elapsed_s: float
    ran: tuple[str, ...] = ()  # names of the detectors that ran on this frame


class DetectorRunner:
    """Runs the detectors due on each frame (detector ``i`` on every ``every[i]``-th frame).

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
        """Run every detector once, untimed, on a new frame size: the first inference on a shape
        builds its execution plan and can take several times as long as the next ones. The live
        service meets this once at start; it is not the lag the deadline guards against."""
        self._primed_shape = image.shape
        try:
            self._pool.submit(self._detect_all, [d for d, _ in self._schedule], image).result()
        except Exception:
            log.exception("face detector failed while warming up")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d, _ in self._schedule)

    @staticmethod
    def _detect_all(detectors: Sequence[FaceDetector], image: np.ndarray) -> list[Detection]:
        found: list[Detection] = []
        for detector in detectors:
            found.extend(detector.detect(image))
        return found

    def run(self, image: np.ndarray, index: int) -> DetectionOutcome:
        if self._pending is not None and not self._pending.done():
            return DetectionOutcome((), WithholdReason.DETECTOR_LAG, 0.0)
        if image.shape != self._primed_shape:
            self._prime(image)
        start = time.perf_counter()
        due = [d for d, every in self._schedule if index % every == 0]
        self._pending = self._pool.submit(self._detect_all, due, image)
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
        return DetectionOutcome(tuple(detections), None, elapsed, tuple(d.name for d in due))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
