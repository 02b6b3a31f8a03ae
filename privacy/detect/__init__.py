"""Face detectors for the privacy stage.

All detectors take a BGR uint8 frame and return :class:`Detection` boxes in its pixels, down to
their own low score floor so the gate can see uncertain candidates. Build them from verified
models::

    from privacy.models import verified_model
    detector = BlazeFaceDetector(verified_model("blazeface_short_range").path)

:class:`HeadDetector` returns head boxes of people (any pose) rather than faces, for the people
the face detectors miss. See docs/privacy-detectors.md for how they compare on the development
set.
"""

from __future__ import annotations

from privacy.detect.base import Detection, DetectorError, FaceDetector, nms
from privacy.detect.blazeface import BlazeFaceDetector
from privacy.detect.centerface import CenterFaceDetector
from privacy.detect.head import HeadDetector
from privacy.detect.tiled import EnsembleDetector, TiledDetector

__all__ = [
    "BlazeFaceDetector",
    "CenterFaceDetector",
    "Detection",
    "DetectorError",
    "EnsembleDetector",
    "FaceDetector",
    "HeadDetector",
    "TiledDetector",
    "nms",
]
