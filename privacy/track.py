"""Face tracks with frame memory: a face stays redacted for a while after its last detection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from firmware.geometry import Box, centre, centres_near, iou
from privacy.detect.base import Detection


@dataclass(slots=True)
class Track:
    id: int
    box: Box
    score: float
    last_seen: int
    velocity: tuple[float, float] = (0.0, 0.0)
    hits: int = 1
    # the small grey pixels under the box when the face was last found (see privacy.change)
    patch: np.ndarray | None = None
    found_box: Box | None = None  # the box it was last found at

    def missed(self, frame: int) -> int:
        return frame - self.last_seen


class FaceTracker:
    """Greedy IoU tracking with constant-velocity prediction.

    Between detections a track's box moves with its estimated velocity, so a face that the
    detector misses for a few frames (motion blur, a turned head) keeps being covered where it
    now is. Tracks end ``memory_frames`` after their last detection.
    """

    def __init__(self, memory_frames: int) -> None:
        self._memory = memory_frames
        self._tracks: list[Track] = []
        self._next_id = 1

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    def reset(self) -> None:
        self._tracks.clear()

    @staticmethod
    def hold(track: Track, frame: int) -> None:
        """The face's pixels are unchanged since it was found, so it is still there: it counts
        as seen on ``frame``, where it was found, and stops moving."""
        if track.found_box is not None:
            track.box = track.found_box
        track.velocity = (0.0, 0.0)
        track.last_seen = frame

    def update(self, detections: Sequence[Detection], frame: int) -> list[Track]:
        """Advance to ``frame`` with its detections; return the live tracks."""
        for track in self._tracks:
            vx, vy = track.velocity
            x, y, w, h = track.box
            track.box = (x + vx, y + vy, w, h)

        pairs = sorted(
            (
                (iou(t.box, d.box), ti, di)
                for ti, t in enumerate(self._tracks)
                for di, d in enumerate(detections)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_d: set[int] = set()
        for overlap, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            track, det = self._tracks[ti], detections[di]
            if overlap < 0.1 and not centres_near(track.box, det.box):
                continue
            used_t.add(ti)
            used_d.add(di)
            self._follow(track, det, frame)
        for di, det in enumerate(detections):
            if di not in used_d:
                self._tracks.append(Track(self._next_id, det.box, det.score, frame))
                self._next_id += 1
        self._tracks = [t for t in self._tracks if t.missed(frame) <= self._memory]
        return list(self._tracks)

    @staticmethod
    def _follow(track: Track, det: Detection, frame: int) -> None:
        gap = max(1, frame - track.last_seen)
        ox, oy = centre(track.box)
        nx, ny = centre(det.box)
        vx, vy = (nx - ox) / gap, (ny - oy) / gap
        pvx, pvy = track.velocity
        track.velocity = (0.5 * pvx + 0.5 * vx, 0.5 * pvy + 0.5 * vy)
        track.box = det.box
        track.score = det.score
        track.last_seen = frame
        track.hits += 1
