"""The privacy stage: detect → track → redact → gate, for every frame that could be streamed."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from firmware.frames import Frame
from firmware.geometry import (
    Box,
    PixelBox,
    area,
    covered_fraction,
    intersection_area,
    iou,
)
from firmware.geometry import clip as clip_box
from firmware.motion.config import MotionConfig
from firmware.motion.detector import MotionDetector
from privacy.change import ChangeMap, patch_unchanged
from privacy.config import PrivacyConfig
from privacy.detect.base import Detection, FaceDetector
from privacy.detect.tiled import tile_grid
from privacy.frame import RedactedFrame, WithholdReason
from privacy.framegate import FrameGate
from privacy.quality import FrameQuality, SceneMonitor, lift
from privacy.redact import redact, redaction_region
from privacy.regions import plan_crops
from privacy.runner import DetectionOutcome, DetectorRunner, Plan
from privacy.track import FaceTracker, Track

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
# Changed parts up to this share of the frame are searched by every detector on crops; beyond
# it the every-frame detector runs on the whole frame and holds the big faces it is sure of, so
# the crops can leave their bodies out.
_SMALL_CHANGE = 0.2
_HEAD_REGIONS = 3  # faceless people searched for heads per frame, biggest first
_HEAD_RETRY = 4  # frames before a place searched in vain for a head is searched again
_SWEEP_OVERLAP = 0.25  # of a sweep tile: faces up to about an eighth of the frame are whole in one
_LIFT_TARGET = 110.0  # mean grey level a dark frame is brightened to for the detectors
LATENCY_WINDOW = 1000  # frames of latency history kept for metrics


@dataclass(frozen=True, slots=True)
class _Decision:
    """What the stage decided for one frame, before it is redacted and sealed."""

    frame: Frame
    cut: bool  # a new scene starts here: it shares no faces with the frames before
    problem: WithholdReason | None
    regions: tuple[PixelBox, ...]  # faces and heads to redact on this frame
    faces: tuple[Box, ...]  # the boxes of those faces and heads: they cover earlier frames too
    heads: tuple[PixelBox, ...]  # head areas of far faceless people, likewise
    faceless: tuple[PixelBox, ...]  # near people with no face found: withheld unless one is


class PrivacyStage:
    """Turns captured frames into :class:`RedactedFrame` s, withholding what it cannot vouch for.

    Temporal state (tracks, scene, hysteresis) carries from frame to frame, so feed it one
    stream in order. ``latencies_s`` holds the time the most recent frames (up to
    ``LATENCY_WINDOW``) spent in the stage; it stays bounded on a stream that runs for months.

    With ``lookahead`` frames, a frame leaves the stage (:meth:`push`) only once that many
    frames after it were processed, and every face or head they redact is redacted on it too,
    its box grown as a lost face's is for each frame between. A face is often first found a
    frame or two after it first shows (coming round a corner, turning from profile); it is
    covered from its first frame. It also lets the thorough detectors search a busy scene on
    every other frame only (:meth:`_detect`). Without lookahead, :meth:`process` returns each
    frame at once.
    """

    def __init__(
        self,
        config: PrivacyConfig,
        schedule: Sequence[tuple[FaceDetector, int]],
        models: Mapping[str, str],
        *,
        offline: bool = False,
        heads: FaceDetector | None = None,
        lookahead: int = 0,
    ) -> None:
        """``schedule`` pairs each detector with how often it runs (every N frames), the
        every-frame one first. ``heads`` finds heads where people are and no face was found
        (:meth:`_find_heads`). ``offline``: no live deadline (``camera-app redact``)."""
        self._cfg = config
        self._every = [every for _, every in schedule]
        deadline = None if offline else config.deadline_ms / 1000
        detectors = [d for d, _ in schedule]
        self._heads = heads is not None
        self._runner = DetectorRunner(
            [*detectors, *([heads] if heads is not None else [])],
            deadline,
            crop_scale=config.crop_scale,
        )
        self._tracker = FaceTracker(config.memory_frames)
        self._changes = ChangeMap()
        self._changed_now: list[PixelBox] = []  # parts of this frame changed since searched
        self._head_misses: list[tuple[PixelBox, int]] = []  # (region, frame) with no head found
        self._recovering = 0  # frames still withheld after a failure (hold_after_failure)
        self._scene = SceneMonitor()
        # Here motion only says where to look now: something still for 10 frames is left to the
        # full-frame sweeps, and ghosts of where someone lingered fade fast.
        self._motion = MotionDetector(MotionConfig(), [], stale_frames=10)
        self.gate = FrameGate(config.release_frames, models)
        self._rng = np.random.default_rng()
        self._index = 0
        self.latencies_s: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._suspects: list[PixelBox] = []  # near faceless blobs of the previous frame
        if lookahead < 0:
            raise ValueError(f"lookahead must be 0 or more, got {lookahead}")
        self.lookahead = lookahead
        self._waiting: deque[_Decision] = deque()  # decided, waiting for the frames after
        self._rested = False  # the thorough detectors skipped the previous frame (lookahead)

    def hold_after_failure(self) -> None:
        """This stage replaces one that failed: it has no memory of the faces the failed one
        was covering, so it withholds until it has state again (``max(release_frames,
        memory_frames)`` frames), still detecting and tracking on them."""
        cfg = self._cfg
        self._recovering = max(cfg.release_frames, cfg.memory_frames, 1)

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.gate.counts)

    @property
    def gate_models(self) -> Mapping[str, str]:
        return self.gate.models

    def process(self, frame: Frame) -> RedactedFrame:
        """The frame, redacted or withheld (a stage without lookahead)."""
        if self.lookahead:
            raise RuntimeError("a stage with lookahead delays frames: use push() and flush()")
        out = self.push(frame)
        assert out is not None
        return out

    def push(self, frame: Frame) -> RedactedFrame | None:
        """Process ``frame``; out comes the frame ``lookahead`` frames before it, once there is
        one."""
        start = time.perf_counter()
        try:
            self._waiting.append(self._decide(frame))
            if len(self._waiting) <= self.lookahead:
                return None
            return self._render(self._waiting.popleft(), list(self._waiting))
        finally:
            self._index += 1
            self.latencies_s.append(time.perf_counter() - start)

    def flush(self) -> list[RedactedFrame]:
        """The frames still waiting for frames after them, at the end of a clip."""
        out = []
        while self._waiting:
            out.append(self._render(self._waiting.popleft(), list(self._waiting)))
        return out

    def _render(self, decision: _Decision, after: Sequence[_Decision]) -> RedactedFrame:
        """Redact and seal a decided frame, with the faces of the frames ``after`` it."""
        frame = decision.frame
        if decision.problem is not None:
            return self.gate.withhold(frame, decision.problem)
        regions = list(decision.regions)
        heads = list(decision.heads)
        cfg = self._cfg
        for distance, later in enumerate(after, start=1):
            if later.cut:
                break
            factor = cfg.enlarge + _GROWTH_PER_MISSED_FRAME * distance
            regions += [redaction_region(f, factor, frame.width, frame.height) for f in later.faces]
            heads += later.heads
        # a near person whose face is found on a frame after this one has it redacted here too
        if any(not _owned(blob, regions) for blob in decision.faceless):
            return self.gate.withhold(frame, WithholdReason.PERSON_WITHOUT_FACE)
        regions += heads
        redacted = frame.image.copy()
        redact(redacted, regions, cfg.method, self._rng)
        return self.gate.stream(frame, redacted, regions)

    def _decide(self, frame: Frame) -> _Decision:
        image = frame.image
        height, width = image.shape[:2]
        quality = self._scene.measure(image)
        problem = self._quality_problem(quality)
        cut = self._index > 0 and quality.change > self._cfg.scene_change
        if cut:
            # a cut: nothing known holds, and the whole picture is searched on this frame
            self.gate.counts["scene_change"] += 1
            self._tracker.reset()
            self._changes.reset()
        assert self._scene.grey is not None
        self._changes.observe(self._scene.grey, width, height)

        motion_boxes = self._moving_boxes(image, quality)
        searchable = image
        if quality.brightness < self._cfg.dark_lift_below:
            searchable = lift(image, quality.brightness, _LIFT_TARGET)
        outcome = self._detect(searchable, motion_boxes)
        problem = problem or outcome.failure
        if problem is None and not self._changes.searched_before:
            problem = WithholdReason.WARMUP
        heads: list[Detection] = []
        # the head detector rests with the thorough ones: the people it would look at are
        # searched on the next frame, and what it finds there covers this one
        if problem is None and self._heads and not self._rested:
            found, failure = self._find_heads(searchable, motion_boxes, outcome.detections)
            heads, problem = list(found), failure

        cfg = self._cfg
        # a turned face is tracked and redacted as its head: the box reaches over the ear and
        # hair behind the face
        detections = [
            d.moved(clip_box(d.head(), width, height) or d.box) for d in outcome.detections
        ]
        confident = [d for d in detections if d.score >= cfg.confident_score]
        # detectors report only down to their own floor: all the rest is the uncertain band
        uncertain = [d for d in detections if d.score < cfg.confident_score]
        if cfg.uncertain_action == "redact":
            tracks = self._tracker.update(confident + uncertain + heads, self._index)
        else:
            tracks = self._tracker.update(confident + heads, self._index)
            if any(not _covered(d, tracks) for d in uncertain):
                problem = problem or WithholdReason.UNCERTAIN_DETECTION
        self._hold_unchanged(tracks)

        regions: list[PixelBox] = []
        for track in tracks:
            factor = cfg.enlarge + _GROWTH_PER_MISSED_FRAME * track.missed(self._index)
            regions.append(redaction_region(track.box, factor, width, height))

        added: list[PixelBox] = []
        faceless: list[PixelBox] = []
        if motion_boxes is not None and self._cfg.person_check:
            added, faceless = self._faceless_people(motion_boxes, width, height, regions)

        if self._recovering > 0:
            self._recovering -= 1
            problem = problem or WithholdReason.RECOVERY
        faces = tuple(t.box for t in tracks)
        return _Decision(frame, cut, problem, tuple(regions), faces, tuple(added), tuple(faceless))

    def _detect(
        self, image: np.ndarray, motion_boxes: Sequence[PixelBox] | None
    ) -> DetectionOutcome:
        """Search the frame for faces, as much as needed and no more.

        The whole frame, by every detector: on the first frame and after a cut, and while the
        camera moves (a face can come in anywhere). Otherwise the parts that changed since they
        were last searched, the faces whose picture changed since they were found (see
        :meth:`_refresh`), and one tile of the rolling sweep (:meth:`_sweep_tile`); when those
        cover more than half the frame, the whole frame.

        Small changes are searched by the thorough detectors only (the every-frame detector,
        the first, costs as much on a crop as on the whole frame). Big ones are searched in two
        steps: the every-frame detector on the whole frame first, then the others on the
        changes outside the big faces it has just found with confidence (it holds those by
        itself; a face it did not find again this frame is searched by the others).

        With lookahead, the second step is skipped on every other such frame (not on a frame
        of the rolling sweep): the changes stay unsearched in the change map and are searched
        on the next frame, and a face found there covers this frame too (:meth:`push`).
        """
        may_rest, self._rested = self.lookahead > 0 and not self._rested, False
        height, width = image.shape[:2]
        count = len(self._every)
        due = [self._index % every == 0 for every in self._every]
        self._changed_now = []
        if not self._changes.searched_before or motion_boxes is None:
            return self._search(image, [None] * count)
        changed = self._changes.changed()
        self._changed_now = changed
        refresh = self._refresh(())
        tile = self._sweep_tile(width, height)
        if not changed and not refresh and not tile:
            return self._search(image, [()] * count)
        moving = plan_crops([*changed, *refresh], width, height)
        small = (
            moving is not None and sum(area(c) for c in moving) <= _SMALL_CHANGE * width * height
        )
        crops = plan_crops([*changed, *refresh], width, height, exact=tile)
        if small or count == 1 or not due[0]:
            plans: list[Plan] = [crops if d else () for d in due]
            if small and count > 1:
                plans[0] = ()
            return self._search(image, plans)
        first = self._search(image, [None, *([()] * (count - 1))])
        if first.failure is not None:
            return first
        if may_rest and not tile:
            self._rested = True
            self.gate.counts["thorough_rested"] += 1
            return first
        found = [d.box for d in first.detections if self._holds(d)]
        # only the faces themselves are left out: a smaller face beside or in front of one
        # (a child before a parent) is still searched by the thorough detectors
        unexplained = self._changes.changed(leave_out=[_face_zone(b) for b in found])
        crops = plan_crops([*unexplained, *self._refresh(found)], width, height, exact=tile)
        rest = self._search(image, [(), *(crops if d else () for d in due[1:])])
        return DetectionOutcome(
            first.detections + rest.detections,
            rest.failure,
            first.elapsed_s + rest.elapsed_s,
            first.ran + rest.ran,
        )

    def _find_heads(
        self,
        image: np.ndarray,
        motion_boxes: Sequence[PixelBox] | None,
        faces: Sequence[Detection],
    ) -> tuple[tuple[Detection, ...], WithholdReason | None]:
        """Heads where people are and no face was found, redacted like faces (head-level
        redaction instead of a withheld frame, and no face left to a detector that cannot see
        it: a profile, a head turning, someone coming out from behind a tree).

        Searched: around each person-sized blob that moves or changed since it was searched,
        whose head area holds no face found now and no face or head being tracked (a square as
        wide as the blob is tall, reaching above it, as only the legs may move), the biggest
        few; and the tile of the rolling sweep, for people who sit still. The head detector sees
        the whole region at its own input size. A head found is tracked like a face, so the
        same person is not searched again while it is covered.
        """
        height, width = image.shape[:2]
        regions = list(self._sweep_tile(width, height))
        if motion_boxes is not None:
            known = [d.box for d in faces] + [t.box for t in self._tracker.tracks]
            people = []
            for x, y, w, h in [*motion_boxes, *self._changed_now]:
                small = h < _PERSON_MIN_HEIGHT * height
                if small or h < w or w * h > _PERSON_MAX_AREA * width * height:
                    continue
                zone = (x - w, y - h // 2, 3 * w, h)
                if any(intersection_area(zone, k) > 0 for k in known):
                    continue
                side = max(w, h)
                square = clip_box(
                    (x + w / 2 - side / 2, y - 0.35 * side, side, side), width, height
                )
                if square is not None:
                    sx, sy, sw, sh = square
                    people.append((int(sx), int(sy), int(np.ceil(sw)), int(np.ceil(sh))))
            # a place searched in vain a moment ago (trees, a window onto a street) waits its turn
            recent = [box for box, at in self._head_misses if self._index - at <= _HEAD_RETRY]
            people = [p for p in people if not any(iou(p, r) > 0.5 for r in recent)]
            people.sort(key=area, reverse=True)
            regions += people[:_HEAD_REGIONS]
        if not regions:
            return (), None
        plans: list[Plan] = [*([()] * len(self._every)), regions]
        outcome = self._runner.run(image, plans)
        self.gate.counts["heads.searched"] += len(regions)
        self.gate.counts["heads.found"] += len(outcome.detections)
        self._head_misses = [
            (box, at) for box, at in self._head_misses if self._index - at <= _HEAD_RETRY
        ]
        self._head_misses += [
            (r, self._index)
            for r in regions
            if not any(intersection_area(r, d.box) > 0 for d in outcome.detections)
        ]
        # a head around a face already found is that face's: its redaction covers it
        faces_now = [d.box for d in faces] + [t.box for t in self._tracker.tracks]
        heads = tuple(
            d for d in outcome.detections if not any(_inside(f, d.box) for f in faces_now)
        )
        return heads, outcome.failure

    def _search(self, image: np.ndarray, plans: Sequence[Plan]) -> DetectionOutcome:
        """Run the detectors as planned; move the change map on where they searched."""
        if self._heads:
            plans = [*plans, ()]
        outcome = self._runner.run(image, plans)
        if outcome.failure is None:
            self._changes.mark_searched(_searched(plans[: len(self._every)]))
        return outcome

    def _sweep_tile(self, width: int, height: int) -> list[PixelBox]:
        """The rolling sweep: on the first frames of every ``sweep_frames``, one quarter of the
        picture (overlapping its neighbours) is searched whatever changed, so every part is
        searched again at least that often and a face missed once, or one that came in
        without changing the picture much, gets another chance. Spread over frames, a sweep
        costs no frame more than a quarter of a whole-frame search."""
        tiles = tile_grid(width, height, 2, 2, _SWEEP_OVERLAP)
        if self._cfg.sweep_frames < len(tiles):
            return list(tiles)  # a period shorter than a sweep: the whole frame, every frame
        step = self._index % self._cfg.sweep_frames
        return [tiles[step]] if step < len(tiles) else []

    def _holds(self, detection: Detection) -> bool:
        """The every-frame detector found this face with confidence, and it is big enough for
        that detector to keep finding it."""
        return detection.score >= self._cfg.confident_score and detection.box[3] >= _HELD_FACE_PX

    def _refresh(self, found: Sequence[Box]) -> list[Box]:
        """Faces whose picture changed since they were found, except where a face was just
        ``found`` again: their boxes are searched again, so that they are refreshed instead of
        only predicted."""
        out = []
        for t in self._tracker.tracks:
            if any(iou(t.box, b) > 0.3 for b in found):
                continue
            if not patch_unchanged(t.patch, self._changes.patch(t.found_box or t.box)):
                out.append(t.box)
        return out

    def _hold_unchanged(self, tracks: Sequence[Track]) -> None:
        """Faces found now keep their picture; faces not found now whose picture is unchanged
        since they were found are still there: they are held, with no time limit, for as long
        as their picture stays the same."""
        for t in tracks:
            if t.last_seen == self._index:
                t.found_box = t.box
                t.patch = self._changes.patch(t.box)
            elif patch_unchanged(t.patch, self._changes.patch(t.found_box or t.box)):
                self._tracker.hold(t, self._index)

    def _quality_problem(self, quality: FrameQuality) -> WithholdReason | None:
        cfg = self._cfg
        if quality.brightness < cfg.min_brightness:
            return WithholdReason.TOO_DARK
        sharpness = quality.sharpness
        if quality.brightness < cfg.dark_lift_below:
            # detail as the detectors see it, on the brightened copy (contrast grows with gain)
            sharpness *= (_LIFT_TARGET / max(quality.brightness, 1.0)) ** 2
        if sharpness < cfg.min_sharpness:
            return WithholdReason.TOO_BLURRED
        return None

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
    ) -> tuple[list[PixelBox], list[PixelBox]]:
        """Person-sized moving blobs with no redacted face where the head should be: the
        regions to redact, and the near people to withhold the frame for unless a face is found
        for them on the frames after it (:meth:`_render`).

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
            # owned by a face redacted next to or above it, or by the body below a face found
            blob = (x, y, w, h)
            if not _owned(blob, face_regions) and not any(
                intersection_area(blob, b) > 0 for b in bodies
            ):
                suspects.append(blob)
        # One frame of a faceless blob is often a reflection or a door; a person stays.
        confirmed = [
            b for b in suspects if any(intersection_area(b, p) > 0 for p in self._suspects)
        ]
        self._suspects = suspects
        if self._cfg.near_faceless == "redact":
            added += [redaction_region(box, 1.15, width, height) for box in confirmed]
            return added, []
        return added, confirmed

    def close(self) -> None:
        self._runner.close()


def _searched(plans: Sequence[Plan]) -> list[PixelBox] | None:
    """What the thorough detectors searched (all but the every-frame one, the first, unless it
    is alone): the whole frame (None), the crops they all had, or nothing. The crop detectors of
    one frame all get the same crops."""
    if len(plans) > 1:
        plans = plans[1:]
    if any(p is not None and not p for p in plans):
        return []
    crops = [p for p in plans if p is not None]
    return None if not crops else list(crops[0])


def _owned(blob: PixelBox, face_regions: Sequence[PixelBox]) -> bool:
    """A redacted face next to or above a moving blob owns it (moving arms or a torso make
    blobs that start below the head): half a blob up and one width to each side."""
    x, y, w, h = blob
    zone = (x - w, y - h // 2, 3 * w, h)
    return any(intersection_area(zone, r) > 0 for r in face_regions)


def _inside(face: Box, head: Box) -> bool:
    """Whether the centre of ``face`` lies in ``head``."""
    cx, cy = face[0] + face[2] / 2, face[1] + face[3] / 2
    return head[0] <= cx <= head[0] + head[2] and head[1] <= cy <= head[1] + head[3]


def _covered(det: Detection, tracks: Sequence) -> bool:
    return any(iou(det.box, t.box) > 0.3 for t in tracks)


def _face_zone(face: Box) -> Box:
    """A held face with its hair and the changes its own movement makes around it."""
    x, y, w, h = face
    return (x - 0.25 * w, y - 0.35 * h, 1.5 * w, 1.6 * h)


def _body_zone(face: Box) -> PixelBox:
    """Where the body of the person with this face is: head, shoulders, arms and torso."""
    x, y, w, h = face
    return (int(x - w), int(y - h / 2), int(np.ceil(3 * w)), int(np.ceil(5 * h)))
