"""Builds the privacy stage from config: verified models → detectors → stage."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from privacy.config import DetectorSpec, PrivacyConfig
from privacy.detect.base import Detection, FaceDetector
from privacy.detect.blazeface import BlazeFaceDetector
from privacy.detect.centerface import CenterFaceDetector
from privacy.models import ModelInfo, verified_model
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0


def _detector(spec: DetectorSpec, info: ModelInfo, floor: float) -> FaceDetector:
    if spec.model == "centerface":
        return CenterFaceDetector(info.path, min_score=floor, name=spec.model)
    return BlazeFaceDetector(info.path, min_score=floor, name=spec.model)


def _verified(config: PrivacyConfig, models_dir: Path | None) -> list[ModelInfo]:
    return [verified_model(spec.model, models_dir) for spec in config.detectors]


def _models(infos: list[ModelInfo]) -> dict[str, str]:
    return {info.name: f"{info.version} sha256:{info.sha256[:12]}" for info in infos}


def build_stage(config: PrivacyConfig, models_dir: Path | None = None) -> PrivacyStage:
    """The stage the config describes. Every model file is checked against its pinned sha256
    first; a missing or altered model raises ``ModelIntegrityError`` and no stage is built."""
    infos = _verified(config, models_dir)
    # Detectors report down to their uncertain band so the gate can see doubtful faces.
    schedule = [
        (_detector(spec, info, spec.floor), spec.every)
        for spec, info in zip(config.detectors, infos, strict=True)
    ]
    return PrivacyStage(config, schedule, _models(infos))


class _LentDetector:
    """A shared detector as one stage sees it: detection under the owner's lock (a detector
    serves one thread at a time, and a stage being torn down may still have a run in flight),
    and no ``close``, so closing the stage leaves the detector to its owner."""

    def __init__(self, detector: FaceDetector, lock: threading.Lock) -> None:
        self._detector = detector
        self._lock = lock
        self.name = detector.name

    def detect(self, image: np.ndarray) -> list[Detection]:
        with self._lock:
            return self._detector.detect(image)


class SharedModels:
    """The detectors of one config, loaded once and lent to every stage built from it.

    The live service builds a fresh stage for every stream, so no tracker, motion or gate state
    crosses from one stream to the next. Loading the models for each stage as well cost a copy
    of the runtimes' weights and working memory per stream start (onnxruntime's arena and
    mediapipe's graph are not all given back to the system when a stage is closed: RSS grew by
    about 120 MB per restarted stream). Here the detectors are built at the first stage and
    kept until :meth:`close`; the model files are still checked against their pinned sha256 at
    every :meth:`build_stage`, so an altered model still stops the stream.
    """

    def __init__(self, config: PrivacyConfig, models_dir: Path | None = None) -> None:
        self._config = config
        self._models_dir = models_dir
        self._lock = threading.Lock()  # guards loading and closing
        self._detect_lock = threading.Lock()  # one detection at a time over all stages
        self._detectors: list[FaceDetector] | None = None

    def build_stage(self) -> PrivacyStage:
        """A new stage (fresh state) over the shared detectors; raises ``ModelIntegrityError``
        as :func:`build_stage` does."""
        infos = _verified(self._config, self._models_dir)
        with self._lock:
            if self._detectors is None:
                self._detectors = [
                    _detector(spec, info, spec.floor)
                    for spec, info in zip(self._config.detectors, infos, strict=True)
                ]
            detectors = list(self._detectors)
        schedule: list[tuple[FaceDetector, int]] = [
            (_LentDetector(d, self._detect_lock), spec.every)
            for d, spec in zip(detectors, self._config.detectors, strict=True)
        ]
        return PrivacyStage(self._config, schedule, _models(infos))

    def close(self) -> None:
        """Free the detectors (the stages built from them must be closed first). A detection
        still in flight (a hung detector) is waited for at most :data:`CLOSE_WAIT_S`; after
        that the detectors are left to the process's exit rather than closed under it."""
        with self._lock:
            detectors, self._detectors = self._detectors or [], None
        if not self._detect_lock.acquire(timeout=CLOSE_WAIT_S):
            log.warning("a face detection is still running; its detectors are not closed")
            return
        try:
            for detector in detectors:
                close = getattr(detector, "close", None)
                if callable(close):
                    close()
        finally:
            self._detect_lock.release()
