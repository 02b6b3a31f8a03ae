"""The privacy stage: detect → track → redact → gate, for every frame that could be streamed."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from camera_app.config.motion import MotionConfig
from camera_app.config.privacy import PrivacyConfig
from camera_app.monitor.motion import MotionDetector
from firmware.frames import Frame
from privacy.detect.base import Detection, FaceDetector
from privacy.frame import RedactedFrame, Region, WithholdReason
from privacy.gate import PrivacyGate
from privacy.quality import FrameQuality, SceneMonitor
from privacy.redact import grow, redact
from privacy.runner import DetectorRunner
from privacy.track import FaceTracker, iou

log = logging.getLogger(__name__)

# Boxes of faces not seen for a while grow by this much per missed frame (where it is now is less
# certain the longer it has not been seen).
_GROWTH_PER_MISSED_FRAME = 0.08
_PERSON_MIN_HEIGHT = 0.08  # of the frame height: smaller blobs are not people
_HEAD_FRACTION = 0.3  # the top of a person box that holds the head
_PERSON_MAX_AREA = 0.25  # of the frame: a bigger blob is the camera or the light, not a person
_CAMERA_MOVING_SHIFT = 0.5  # global shift in thumbnail pixels (80 px wide) per frame


class PrivacyStage:
    """Turns captured frames into :class:`RedactedFrame` s, withholding what it cannot vouch for.

    Temporal state (tracks, scene, hysteresis) carries from frame to frame, so feed it one
    stream in order. ``latencies_s`` records the time each frame spent in the stage.
    """

    def __init__(
        self,
        config: PrivacyConfig,
        schedule: Sequence[tuple[FaceDetector, int]],
        models: Mapping[str, str],
    ) -> None:
        """``schedule`` pairs each detector with how often it runs (every N frames)."""
        self._cfg = config
        self._runner = DetectorRunner(schedule, config.deadline_ms / 1000)
        self._tracker = FaceTracker(config.memory_frames)
        self._scene = SceneMonitor()
        self._motion = MotionDetector(MotionConfig(), []) if config.person_check else None
        self.gate = PrivacyGate(config.release_frames, models)
        self._rng = np.random.default_rng()
        self._index = 0
        self._ran_on_scene: set[str] = set()  # detectors that have run on the current scene
        self.latencies_s: list[float] = []

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.gate.counts)

    @property
    def gate_models(self) -> Mapping[str, str]:
        return self.gate.models

    def process(self, frame: Frame) -> RedactedFrame:
        start = time.perf_counter()
        try:
            return self._process(frame)
        finally:
            self._index += 1
            self.latencies_s.append(time.perf_counter() - start)

    def _process(self, frame: Frame) -> RedactedFrame:
        image = frame.image
        height, width = image.shape[:2]
        quality = self._scene.measure(image)
        problem = self._quality_problem(quality)
        if problem is WithholdReason.SCENE_CHANGE:
            self._tracker.reset()
            self._ran_on_scene.clear()

        outcome = self._runner.run(image, self._index)
        problem = problem or outcome.failure
        self._ran_on_scene.update(outcome.ran)
        if problem is None and not self._ran_on_scene.issuperset(self._runner.names):
            problem = WithholdReason.WARMUP

        cfg = self._cfg
        confident = [d for d in outcome.detections if d.score >= cfg.confident_score]
        uncertain = [
            d for d in outcome.detections if cfg.uncertain_score <= d.score < cfg.confident_score
        ]
        if cfg.uncertain_action == "redact":
            tracks = self._tracker.update(confident + uncertain, self._index)
        else:
            tracks = self._tracker.update(confident, self._index)
            if any(not _covered(d, tracks) for d in uncertain):
                problem = problem or WithholdReason.UNCERTAIN_DETECTION

        regions: list[Region] = []
        for track in tracks:
            factor = cfg.enlarge + _GROWTH_PER_MISSED_FRAME * track.missed(self._index)
            regions.append(grow(track.box, factor, width, height))

        if self._motion is not None:
            if quality.camera_shift > _CAMERA_MOVING_SHIFT:
                # Moving blobs mean nothing while the camera moves; the face detectors still
                # run on every frame. Counted so an owner can see how often it happens.
                self.gate.counts["person_check.camera_moving"] += 1
                self._motion.process(image)  # keep its background in step
            else:
                heads, person_problem = self._faceless_people(image, regions)
                regions.extend(heads)
                problem = problem or person_problem

        if problem is not None:
            return self.gate.withhold(frame, problem)
        redacted = image.copy()
        redact(redacted, regions, cfg.method, self._rng)
        return self.gate.stream(frame, redacted, regions)

    def _quality_problem(self, quality: FrameQuality) -> WithholdReason | None:
        cfg = self._cfg
        if self._index > 0 and quality.change > cfg.scene_change:
            return WithholdReason.SCENE_CHANGE
        if quality.brightness < cfg.min_brightness:
            return WithholdReason.TOO_DARK
        if quality.sharpness < cfg.min_sharpness:
            return WithholdReason.TOO_BLURRED
        return None

    def _faceless_people(
        self, image: np.ndarray, face_regions: Sequence[Region]
    ) -> tuple[list[Region], WithholdReason | None]:
        """Person-sized moving blobs with no redacted face where the head should be.

        A far person (shorter than ``far_person_height``) has the top of their box redacted
        instead: their face is too small for the detectors but a head-sized block keeps the
        stream watchable. A near one means the detectors missed a face they should see (side
        view, back of the head turning): the frame is withheld.
        """
        assert self._motion is not None
        height, width = image.shape[:2]
        heads: list[Region] = []
        problem = None
        for x, y, w, h in self._motion.process(image).boxes:
            if (
                h < _PERSON_MIN_HEIGHT * height
                or h < w
                or w * h > _PERSON_MAX_AREA * width * height
            ):
                continue
            head = (x, y, w, max(1, int(h * _HEAD_FRACTION)))
            # Moving arms or a torso make a blob whose top is below the head, so look for a
            # face from half a blob above its top down to its middle, a bit wider than it.
            zone = (x - w // 5, y - h // 2, w + 2 * (w // 5), h)
            if any(_overlap(zone, r) > 0 for r in face_regions):
                continue
            if h < self._cfg.far_person_height * height:
                heads.append(grow(head, 1.2, width, height))
            else:
                problem = WithholdReason.PERSON_WITHOUT_FACE
        return heads, problem

    def close(self) -> None:
        self._runner.close()


def _covered(det: Detection, tracks: Sequence) -> bool:
    return any(iou(det.box, t.box) > 0.3 for t in tracks)


def _overlap(a: Region, b: Region) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)
