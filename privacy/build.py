"""Builds the privacy stage from config: verified models → detectors → stage."""

from __future__ import annotations

from pathlib import Path

from privacy.config import DetectorSpec, PrivacyConfig
from privacy.detect.base import FaceDetector
from privacy.detect.blazeface import BlazeFaceDetector
from privacy.detect.centerface import CenterFaceDetector
from privacy.detect.head import HeadDetector
from privacy.detect.tiled import BoundedDetector
from privacy.models import ModelInfo, verified_model
from privacy.stage import PrivacyStage

HEAD_MODEL = "blazepose_detector"


def _detector(spec: DetectorSpec, info: ModelInfo, floor: float) -> FaceDetector:
    if spec.model == "centerface":
        # a photo is searched in tiles: its memory follows the tile, not the photo
        return BoundedDetector(CenterFaceDetector(info.path, min_score=floor, name=spec.model))
    return BlazeFaceDetector(info.path, min_score=floor, name=spec.model)


def build_stage(
    config: PrivacyConfig, models_dir: Path | None = None, *, offline: bool = False
) -> PrivacyStage:
    """The stage the config describes. Every model file is checked against its pinned sha256
    first; a missing or altered model raises ``ModelIntegrityError`` and no stage is built.
    ``offline`` (``camera-app redact`` and ``privacy-bench``): no live deadline."""
    infos = [verified_model(spec.model, models_dir) for spec in config.detectors]
    # Detectors report down to their uncertain band so the gate can see doubtful faces.
    schedule = [
        (_detector(spec, info, spec.floor), spec.every)
        for spec, info in zip(config.detectors, infos, strict=True)
    ]
    heads = None
    if config.heads:
        head_info = verified_model(HEAD_MODEL, models_dir)
        infos.append(head_info)
        heads = HeadDetector(head_info.path, min_score=config.head_min_score, name=HEAD_MODEL)
    models = {info.name: f"{info.version} sha256:{info.sha256[:12]}" for info in infos}
    return PrivacyStage(config, schedule, models, offline=offline, heads=heads)
