"""The privacy stage: detect → track → redact → gate, for every frame that could be streamed."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np

from firmware.frames import Frame
from firmware.geometry import Box, PixelBox, covered_fraction, intersection_area, iou
from firmware.motion.config import MotionConfig
from firmware.motion.detector import MotionDetector
from privacy.config import PrivacyConfig
from privacy.detect.base import Detection, FaceDetector
from privacy.frame import RedactedFrame, WithholdReason
from privacy.framegate import FrameGate
from privacy.quality import FrameQuality, SceneMonitor
from privacy.redact import redact, redaction_region
from privacy.regions import plan_crops
from privacy.runner import DetectorRunner
from privacy.track import FaceTracker

log = logging.getLogger(__name__)

# Boxes of faces not seen for a while grow by this much per missed frame (where it is now is less
# certain the longer it has not been seen).
_GROWTH_PER_MISSED_FRAME = 0.08
_PERSON_MIN_HEIGHT = 0.08  # of the frame height: smaller blobs are not people
_HEAD_FRACTION = 0.3  # the top of a person box that holds the head
_PERSON_MAX_AREA = 0.25  # of the frame: a bigger blob is the camera or the light, not a person
_HELD_FACE_PX = 40  # faces at least this tall are held by the every-frame detector (BlazeFace)
_UPRIGHT = 1.5  # a near person's blob is at least this much taller than wide
_CAMERA_MOVING_SHIFT = 0.5  # global shift in thumbnail pixels (80 px wide) per frame
LATENCY_WINDOW = 1000  # frames of latency history kept for metrics


class PrivacyStage:
    """Turns captured frames into :class:`RedactedFrame` s, withholding what it cannot vouch for.

    Temporal state (tracks, scene, hysteresis) carries from frame to frame, so feed it one
    stream in order. ``latencies_s`` holds the time the most recent frames (up to
    ``LATENCY_WINDOW``) spent in the stage; it stays bounded on a stream that runs for months.
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
        # Here motion only says where to look now: something still for 10 frames is left to the
        # full-frame sweeps, and ghosts of where someone lingered fade fast.
        self._motion = MotionDetector(MotionConfig(), [], stale_frames=10)
        self.gate = FrameGate(config.release_frames, models)
        self._rng = np.random.default_rng()
        self._index = 0
        self._ran_on_scene: set[str] = set()  # detectors that have run on the current scene
        self.latencies_s: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._suspects: list[PixelBox] = []  # near faceless blobs of the previous frame

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

        motion_boxes = self._moving_boxes(image, quality)
        crops = None  # a moving camera can bring a face in anywhere: whole frames then
        if motion_boxes is not None:
            crops = plan_crops(self._attention(motion_boxes), width, height)
        outcome = self._runner.run(image, self._index, crops)
        problem = problem or outcome.failure
        self._ran_on_scene.update(outcome.ran)
        if problem is None and not self._ran_on_scene.issuperset(self._runner.names):
            problem = WithholdReason.WARMUP

        cfg = self._cfg
        confident = [d for d in outcome.detections if d.score >= cfg.confident_score]
        # detectors report only down to their own floor: all the rest is the uncertain band
        uncertain = [d for d in outcome.detections if d.score < cfg.confident_score]
        if cfg.uncertain_action == "redact":
            tracks = self._tracker.update(confident + uncertain, self._index)
        else:
            tracks = self._tracker.update(confident, self._index)
            if any(not _covered(d, tracks) for d in uncertain):
                problem = problem or WithholdReason.UNCERTAIN_DETECTION

        regions: list[PixelBox] = []
        for track in tracks:
            factor = cfg.enlarge + _GROWTH_PER_MISSED_FRAME * track.missed(self._index)
            regions.append(redaction_region(track.box, factor, width, height))

        if motion_boxes is not None and self._cfg.person_check:
            added, person_problem = self._faceless_people(motion_boxes, width, height, regions)
            regions.extend(added)
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

    def _attention(self, motion_boxes: Sequence[PixelBox]) -> list[Box]:
        """Where the scheduled detectors must look between their full-frame sweeps.

        New faces come in with motion, so: moving blobs, except those of the body of a face that
        was detected with confidence on the previous frame (the every-frame detector keeps that
        one in hand, and the full-frame sweep still sees the whole picture); and the faces the
        every-frame detector cannot hold by itself (small or uncertain ones), so that their
        boxes are refreshed instead of only predicted.
        """
        previous = self._index - 1
        held, refresh = [], []
        for t in self._tracker.tracks:
            sure = t.last_seen == previous and t.score >= self._cfg.confident_score
            if sure and t.box[3] >= _HELD_FACE_PX:
                held.append(_body_zone(t.box))
            else:
                refresh.append(t.box)
        unexplained = [b for b in motion_boxes if not any(intersection_area(b, h) for h in held)]
        return [*unexplained, *refresh]

    def _moving_boxes(
        self, image: np.ndarray, quality: FrameQuality
    ) -> tuple[PixelBox, ...] | None:
        """Moving blobs, or None while the camera itself moves (then blobs mean nothing; the
        face detectors still run, on whole frames). Counted so an owner can see how often."""
        boxes = self._motion.process(image).boxes
        if quality.camera_shift > _CAMERA_MOVING_SHIFT:
            self.gate.counts["person_check.camera_moving"] += 1
            return None
        return boxes

    def _faceless_people(
        self,
        boxes: Sequence[PixelBox],
        width: int,
        height: int,
        face_regions: Sequence[PixelBox],
    ) -> tuple[list[PixelBox], WithholdReason | None]:
        """Person-sized moving blobs with no redacted face where the head should be.

        A far person (shorter than ``far_person_height``) whose head area is not already mostly
        covered gets the head area redacted: their face is often too small for the detectors,
        and a head-sized block keeps the stream watchable. An upright near person, seen on two
        frames in a row, with no face anywhere around the top of the blob means the detectors
        missed a face they should see (side view, a head turning): the frame is withheld, or
        with ``near_faceless: redact`` the whole person is blocked out.
        """
        added: list[PixelBox] = []
        suspects: list[PixelBox] = []
        bodies = [_body_zone(t.box) for t in self._tracker.tracks]
        for x, y, w, h in boxes:
            too_big = w * h > _PERSON_MAX_AREA * width * height
            if h < _PERSON_MIN_HEIGHT * height or h < w or too_big:
                continue
            if h < self._cfg.far_person_height * height:
                head = redaction_region((x, y, w, max(1.0, h * _HEAD_FRACTION)), 1.3, width, height)
                if covered_fraction(head, face_regions) < 0.5:
                    added.append(head)
                continue
            if h < _UPRIGHT * w or y <= 0:
                continue  # not upright (an arm, a shoulder), or the head is outside the picture
            # A detected face next to or above the blob owns it (moving arms or a torso make
            # blobs that start below the head): look half a blob up and one width to each side,
            # and at the bodies below the faces found.
            zone = (x - w, y - h // 2, 3 * w, h)
            blob = (x, y, w, h)
            if not any(intersection_area(zone, r) > 0 for r in face_regions) and not any(
                intersection_area(blob, b) > 0 for b in bodies
            ):
                suspects.append(blob)
        # One frame of a faceless blob is often a reflection or a door; a person stays.
        confirmed = [
            b for b in suspects if any(intersection_area(b, p) > 0 for p in self._suspects)
        ]
        self._suspects = suspects
        problem = None
        for box in confirmed:
            if self._cfg.near_faceless == "redact":
                added.append(redaction_region(box, 1.15, width, height))
            else:
                problem = WithholdReason.PERSON_WITHOUT_FACE
        return added, problem

    def close(self) -> None:
        self._runner.close()


def _covered(det: Detection, tracks: Sequence) -> bool:
    return any(iou(det.box, t.box) > 0.3 for t in tracks)


def _body_zone(face: Box) -> PixelBox:
    """Where the body of the person with this face is: head, shoulders, arms and torso."""
    x, y, w, h = face
    return (int(x - w), int(y - h / 2), int(np.ceil(3 * w)), int(np.ceil(5 * h)))
