"""The real privacy stage with a scripted detector, so each gate decision can be provoked on
purpose (a face found or not, an error, a detector that hangs), and frames of a textured scene
to feed it. The real models are tested on real footage elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from firmware.frames import Frame
from privacy.config import DetectorSpec, PrivacyConfig
from privacy.detect.base import Detection
from privacy.stage import PrivacyStage
from testkit.media import scene_background

W, H = 640, 480
"""The size of :func:`scene_frame`'s pictures."""
FACE = (300.0, 150.0, 60.0, 80.0)
"""Where :func:`face` reports a face by default: (x, y, width, height)."""

Script = Callable[[int], list[Detection]]
"""What a :class:`ScriptedDetector` does on its n-th timed call: return, raise or sleep."""


class ScriptedDetector:
    """Returns, raises or sleeps as ``script(n)`` says for its n-th call."""

    def __init__(self, script: Script, name: str = "scripted") -> None:
        self.name = name
        self.calls = 0
        self._script = script

    def detect(self, image: np.ndarray) -> list[Detection]:
        n = self.calls
        self.calls += 1
        return self._script(n)


def face(score: float = 0.9, box: tuple[float, float, float, float] = FACE) -> Detection:
    """A face the scripted detector reports."""
    return Detection(box, score, "scripted")


def always(*dets: Detection) -> Script:
    """A script that finds ``dets`` (nothing, when none are given) on every call."""
    return lambda _n: list(dets)


def stage_config(**kw: object) -> PrivacyConfig:
    """A privacy config of one detector searching the whole of every frame (``sweep_frames``
    1: the scripted faces are not in the pixels, so change-driven search would skip them), no
    person check and no release delay; ``kw`` override."""
    base: dict = {
        "detectors": [DetectorSpec(model="blazeface_full_range")],
        "person_check": False,
        "release_frames": 0,
        "sweep_frames": 1,
    }
    base.update(kw)
    return PrivacyConfig(**base)


def scripted_stage(script: Script, **kw: object) -> tuple[PrivacyStage, ScriptedDetector]:
    """The real ``PrivacyStage`` (configured by :func:`stage_config` with ``kw``) whose only
    detector follows ``script``; returns the stage and its detector."""
    detector = ScriptedDetector(script)
    return PrivacyStage(stage_config(**kw), [(detector, 1)], {"scripted": "1"}), detector


def scene_frame(i: int, image: np.ndarray | None = None) -> Frame:
    """Frame number ``i`` (at 15 fps) of ``image``, or of the textured scene; read-only, as
    capture hands frames over."""
    img = scene_background(W, H) if image is None else image
    img = img.copy()
    img.flags.writeable = False
    return Frame(img, i / 15, i)
