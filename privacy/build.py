"""Builds the privacy stage from config: verified models → detectors → stage."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from privacy.config import DetectorSpec, PrivacyConfig
from privacy.detect.base import Detection, FaceDetector
from privacy.detect.blazeface import BlazeFaceDetector
from privacy.detect.centerface import CenterFaceDetector
from privacy.detect.head import HeadDetector
from privacy.detect.tiled import BoundedDetector
from privacy.models import ModelInfo, verified_model
from privacy.stage import PrivacyStage

log = logging.getLogger(__name__)

HEAD_MODEL = "blazepose_detector"
CLOSE_WAIT_S = 5.0


def _detector(spec: DetectorSpec, info: ModelInfo, floor: float) -> FaceDetector:
    if spec.model == "centerface":
        # a photo is searched in tiles: its memory follows the tile, not the photo
        return BoundedDetector(CenterFaceDetector(info.path, min_score=floor, name=spec.model))
    return BlazeFaceDetector(info.path, min_score=floor, name=spec.model)


@dataclass(frozen=True, slots=True)
class _Verified:
    faces: list[ModelInfo]  # one per config.detectors entry
    head: ModelInfo | None

    @property
    def models(self) -> dict[str, str]:
        infos = [*self.faces, *([self.head] if self.head is not None else [])]
        return {info.name: f"{info.version} sha256:{info.sha256[:12]}" for info in infos}


def _verified(config: PrivacyConfig, models_dir: Path | None) -> _Verified:
    """Every model file the config needs, checked against its pinned sha256 (raises
    ``ModelIntegrityError`` on a missing or altered one)."""
    faces = [verified_model(spec.model, models_dir) for spec in config.detectors]
    head = verified_model(HEAD_MODEL, models_dir) if config.heads else None
    return _Verified(faces, head)


def _detectors(
    config: PrivacyConfig, verified: _Verified
) -> tuple[list[FaceDetector], FaceDetector | None]:
    # Detectors report down to their uncertain band so the gate can see doubtful faces.
    faces = [
        _detector(spec, info, spec.floor)
        for spec, info in zip(config.detectors, verified.faces, strict=True)
    ]
    heads = None
    if verified.head is not None:
        heads = HeadDetector(verified.head.path, min_score=config.head_min_score, name=HEAD_MODEL)
    return faces, heads


def build_stage(
    config: PrivacyConfig, models_dir: Path | None = None, *, offline: bool = False
) -> PrivacyStage:
    """The stage the config describes. Every model file is checked against its pinned sha256
    first; a missing or altered model raises ``ModelIntegrityError`` and no stage is built.
    ``offline`` (``camera-app redact`` and ``privacy-bench``): no live deadline."""
    verified = _verified(config, models_dir)
    faces, heads = _detectors(config, verified)
    schedule = [(d, spec.every) for d, spec in zip(faces, config.detectors, strict=True)]
    return PrivacyStage(
        config,
        schedule,
        verified.models,
        offline=offline,
        heads=heads,
        lookahead=config.lookahead_frames,
    )


class _LentDetector:
    """A shared detector as one stage sees it: detection under the owner's lock (a detector
    serves one thread at a time, and a stage being torn down may still have a run in flight),
    and no ``close``, so closing the stage leaves the detector to its owner."""

    def __init__(self, detector: FaceDetector, lock: threading.Lock) -> None:
        self._detector = detector
        self._lock = lock
        self.name = detector.name
        self.letterboxes = bool(getattr(detector, "letterboxes", False))

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

    Thread safety: the stages may run on different threads (one per streaming camera of a
    device with several). Detection is serialised over all of them (one lock): a LiteRT/TFLite
    interpreter must not be called from two threads at once (onnxruntime's ``run`` could be,
    but one rule keeps every detector safe). Everything else a stage holds is its own.
    """

    def __init__(self, config: PrivacyConfig, models_dir: Path | None = None) -> None:
        self._config = config
        self._models_dir = models_dir
        self._lock = threading.Lock()  # guards loading and closing
        self._detect_lock = threading.Lock()  # one detection at a time over all stages
        self._loaded: tuple[list[FaceDetector], FaceDetector | None] | None = None

    def build_stage(self) -> PrivacyStage:
        """A new stage (fresh state) over the shared detectors; raises ``ModelIntegrityError``
        as :func:`build_stage` does."""
        verified = _verified(self._config, self._models_dir)
        with self._lock:
            if self._loaded is None:
                self._loaded = _detectors(self._config, verified)
            faces, heads = self._loaded
        schedule: list[tuple[FaceDetector, int]] = [
            (_LentDetector(d, self._detect_lock), spec.every)
            for d, spec in zip(faces, self._config.detectors, strict=True)
        ]
        lent_heads = _LentDetector(heads, self._detect_lock) if heads is not None else None
        return PrivacyStage(
            self._config,
            schedule,
            verified.models,
            heads=lent_heads,
            lookahead=self._config.lookahead_frames,
        )

    def close(self) -> None:
        """Free the detectors (the stages built from them must be closed first). A detection
        still in flight (a hung detector) is waited for at most :data:`CLOSE_WAIT_S`; after
        that the detectors are left to the process's exit rather than closed under it."""
        with self._lock:
            loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        faces, heads = loaded
        detectors = [*faces, *([heads] if heads is not None else [])]
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
