"""The privacy stage's self-test: built from the verified models, does it redact a known face?

The update health check runs it in a new release (``camera-app selftest``) before the release is
kept. The image ``face.jpg`` is a 384×384 crop of scikit-image's ``astronaut`` (NASA photograph
of Eileen Collins, public domain), shipped with the package because scikit-image is only a
development dependency. The stage sees it for ``FRAMES`` frames, as a camera would (warm-up,
then steady state); the test passes when the last frame is streamed and no streamed frame leaks
the face, judged on pixels by :mod:`privacy.leakcheck`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from firmware.frames import Frame
from privacy.build import build_stage
from privacy.config import PrivacyConfig
from privacy.leakcheck import crop, leak_score
from privacy.models import ModelIntegrityError

log = logging.getLogger(__name__)

IMAGE = Path(__file__).with_name("face.jpg")
#: the face in IMAGE (x, y, w, h): brow to chin, cheek to cheek
FACE_BOX = (112, 70, 97, 106)
FRAMES = 8
FPS = 15.0


@dataclass(frozen=True, slots=True)
class SelftestResult:
    passed: bool
    reason: str | None
    frames: int
    streamed: int
    models: dict[str, str]
    seconds: float


def _image() -> np.ndarray:
    image = cv2.imread(str(IMAGE), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"the self-test image {IMAGE} is missing or unreadable")
    image.flags.writeable = False
    return image


def run_selftest(config: PrivacyConfig, models_dir: Path | None = None) -> SelftestResult:
    """Build the stage ``config`` describes from the models in ``models_dir`` and check it."""
    started = time.perf_counter()

    def failed(reason: str, frames: int = 0, streamed: int = 0,
               models: dict[str, str] | None = None) -> SelftestResult:  # fmt: skip
        return SelftestResult(False, reason, frames, streamed, models or {},
                              time.perf_counter() - started)  # fmt: skip

    try:
        image = _image()
    except FileNotFoundError as err:
        return failed(str(err))
    try:
        stage = build_stage(config, models_dir)
    except ModelIntegrityError as err:
        return failed(f"the privacy stage cannot be built: {err}")
    except Exception as err:  # a model that loads wrongly fails the test, with the reason
        return failed(f"the privacy stage cannot be built: {err!r}")
    models = dict(stage.gate_models)
    original = crop(image, FACE_BOX)
    assert original is not None
    streamed = 0
    last = None
    try:
        for index in range(FRAMES + 1):
            try:
                if index < FRAMES:
                    result = stage.push(Frame(image, index / FPS, index))
                    outs = [] if result is None else [result]
                else:
                    outs = stage.flush()  # the frames still in the lookahead
            except Exception as err:
                return failed(f"the privacy stage raised {err!r}", index, streamed, models)
            for out in outs:
                last = out
                if not out.streamed:
                    continue
                streamed += 1
                redacted = crop(out.image, FACE_BOX)
                score = leak_score(original, redacted) if redacted is not None else None
                if score is None or score.leaked:
                    return failed(
                        f"frame {out.sequence} was streamed with the face not redacted ({score})",
                        out.sequence + 1, streamed, models,
                    )  # fmt: skip
    finally:
        stage.close()
    if last is None or not last.streamed:
        reason = last.reason if last is not None else "no frame"
        return failed(f"the stage still withholds after {FRAMES} frames ({reason})",
                      FRAMES, streamed, models)  # fmt: skip
    return SelftestResult(True, None, FRAMES, streamed, models, time.perf_counter() - started)
