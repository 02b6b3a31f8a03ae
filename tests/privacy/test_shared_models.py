"""``privacy.build.SharedModels``: the live service's detectors, loaded once and lent to a fresh
stage per stream, with the real models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from firmware.frames import Frame
from privacy import build
from privacy.build import SharedModels
from privacy.config import PrivacyConfig
from privacy.models import ModelIntegrityError, load_manifest
from privacy.stage import PrivacyStage
from testkit.media import scene_background
from testkit.paths import MODELS

W, H = 640, 480
HEAD_AT = (200, 100)


def _frames(count: int = 8) -> list[np.ndarray]:
    """A person (the astronaut's head) standing in a textured room."""
    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:300, 120:330]
    scene = scene_background(W, H)
    x, y = HEAD_AT
    scene[y : y + head.shape[0], x : x + head.shape[1]] = head
    rng = np.random.default_rng(5)
    return [
        np.clip(scene.astype(np.int16) + rng.integers(-2, 3, scene.shape), 0, 255).astype(np.uint8)
        for _ in range(count)
    ]


def _stream(stage: PrivacyStage, frames: list[np.ndarray]) -> list[tuple[str, tuple]]:
    out = []
    try:
        for i, image in enumerate(frames):
            image.flags.writeable = False
            result = stage.push(Frame(image, i / 15, i))
            if result is not None:
                out.append((result.status.value, tuple(result.regions)))
        out += [(r.status.value, tuple(r.regions)) for r in stage.flush()]
    finally:
        stage.close()
    return out


def test_each_stream_gets_a_fresh_stage_over_detectors_loaded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded: list[str] = []
    real = build._detector

    def counting(*args: object, **kwargs: object) -> object:
        detector = real(*args, **kwargs)  # type: ignore[arg-type]
        loaded.append(detector.name)
        return detector

    monkeypatch.setattr(build, "_detector", counting)
    models = SharedModels(PrivacyConfig(), MODELS)
    frames = _frames()
    try:
        first = _stream(models.build_stage(), frames)
        second = _stream(models.build_stage(), frames)  # after the first stage was closed
    finally:
        models.close()
    assert sorted(loaded) == sorted(spec.model for spec in PrivacyConfig().detectors)
    # the second stream starts from scratch: the same frames give the same decisions
    assert second == first
    assert any(status == "streamed" and regions for status, regions in first)


def test_an_altered_model_stops_the_next_stream(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    for info in load_manifest(MODELS):
        (models_dir / info.file).write_bytes(info.path.read_bytes())
    models = SharedModels(PrivacyConfig(), models_dir)
    try:
        models.build_stage().close()
        target = models_dir / "centerface.onnx"
        altered = bytearray(target.read_bytes())
        altered[len(altered) // 2] ^= 0xFF
        target.write_bytes(bytes(altered))
        with pytest.raises(ModelIntegrityError):
            models.build_stage()
    finally:
        models.close()
