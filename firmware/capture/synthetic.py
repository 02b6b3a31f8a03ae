"""``test:`` — a deterministic synthetic scene, for running and testing without a camera."""

from __future__ import annotations

import logging
import math
import time

import cv2
import numpy as np

from firmware.capture.base import CaptureError, CaptureSource
from firmware.frames import Frame
from firmware.geometry import PixelBox

logger = logging.getLogger(__name__)

_NOISE_BANK = 6
_BODY_COLOR = (70, 50, 160)
_HEAD_COLOR = (140, 170, 215)
_LEG_COLOR = (45, 45, 55)


class SyntheticSource(CaptureSource):
    """A textured room that a person-like figure walks across now and then.

    Each cycle of ``cycle_seconds`` is empty except for ``visit_seconds`` starting at
    ``visit_start`` (seconds into the cycle), during which a "visitor" (ellipse body, round head,
    swinging legs) crosses the frame, alternating direction every cycle. A little sensor noise and
    a frame counter in the top-left corner are added to every frame.

    The picture depends only on the sequence number and ``seed`` (scene time is
    ``sequence / fps``), so runs are reproducible. With ``realtime=True`` frames are paced with
    sleeps and stamped with ``time.monotonic()``; if the reader falls behind, missed frame slots
    are skipped and counted as dropped, like a real sensor. With ``realtime=False`` frames come
    immediately with a virtual timestamp ``t0 + sequence / fps``.
    """

    live = False

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: float = 15.0,
        *,
        realtime: bool = True,
        seed: int = 0,
        cycle_seconds: float = 20.0,
        visit_seconds: float = 8.0,
        visit_start: float = 2.0,
    ) -> None:
        super().__init__()
        if width < 16 or height < 16:
            raise ValueError(f"synthetic scene too small: {width}x{height}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if not (visit_seconds > 0 and 0 <= visit_start <= cycle_seconds - visit_seconds):
            raise ValueError("the visit must fit in the cycle: 0 <= start, start + visit <= cycle")
        self.width = width
        self.height = height
        self.fps = float(fps)
        self.realtime = realtime
        self.seed = seed
        self.cycle_seconds = float(cycle_seconds)
        self.visit_seconds = float(visit_seconds)
        self.visit_start = float(visit_start)
        self.name = "test:"
        self._background: np.ndarray | None = None
        self._noise: list[np.ndarray] = []
        self._opened = False
        self._t0 = 0.0
        self._next_due = 0.0

    def open(self) -> None:
        if self._background is None:
            self._background = self._render_background()
            rng = np.random.default_rng(self.seed + 1)
            shape = (self.height, self.width, 3)
            self._noise = [
                rng.integers(0, 3, size=shape, dtype=np.uint8) for _ in range(_NOISE_BANK)
            ]
        self._t0 = time.monotonic()
        self._next_due = self._t0
        self._opened = True
        logger.debug(
            "synthetic scene %dx%d @ %.1f fps (%s)",
            self.width,
            self.height,
            self.fps,
            "realtime" if self.realtime else "fast",
        )

    def read(self) -> Frame:
        if not self._opened:
            raise CaptureError("synthetic source is not open")
        period = 1.0 / self.fps
        if self.realtime:
            now = time.monotonic()
            if now < self._next_due:
                time.sleep(self._next_due - now)
            elif now - self._next_due >= period:
                missed = int((now - self._next_due) * self.fps)
                for _ in range(missed):
                    self._next_sequence()
                self._count_dropped(missed)
                self._next_due += missed * period
            self._next_due += period
        sequence = self._next_sequence()
        image = self.render(sequence)
        timestamp = time.monotonic() if self.realtime else self._t0 + sequence * period
        return Frame(image=image, timestamp=timestamp, sequence=sequence)

    def close(self) -> None:
        self._opened = False

    def visitor_box(self, sequence: int) -> PixelBox | None:
        """Where the visitor is in frame ``sequence``, or None when absent.

        The box may reach outside the frame while the visitor enters or leaves.
        """
        pose = self._visitor_pose(sequence / self.fps)
        if pose is None:
            return None
        cx, foot_y, _ = pose
        half_w, total_h = self._visitor_size()
        # Thick leg strokes reach a little below the feet.
        below = self._geometry()["thickness"] // 2 + 1
        return (cx - half_w, foot_y - total_h, 2 * half_w + 1, total_h + below + 1)

    def render(self, sequence: int) -> np.ndarray:
        """The picture for frame ``sequence`` (a new array)."""
        if self._background is None:
            raise CaptureError("synthetic source is not open")
        image = self._background.copy()
        scene_time = sequence / self.fps
        pose = self._visitor_pose(scene_time)
        if pose is not None:
            self._draw_visitor(image, *pose)
        cv2.add(image, self._noise[sequence % _NOISE_BANK], dst=image)
        cv2.subtract(image, self._noise[(sequence * 5 + 3) % _NOISE_BANK], dst=image)
        text = f"{sequence:06d} {scene_time:8.2f}s"
        scale = max(0.3, self.height / 1200)
        origin = (4, int(14 * scale / 0.4))
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(image, text, origin, font, scale, (0, 0, 0), 3, cv2.LINE_8)
        cv2.putText(image, text, origin, font, scale, (255, 255, 255), 1, cv2.LINE_8)
        return image

    def _visitor_size(self) -> tuple[int, int]:
        """Half width and height of a box that always contains the visitor (a little slack)."""
        g = self._geometry()
        half_w = max(g["body_a"], g["swing"] + g["thickness"]) + 1
        total_h = g["leg"] + 2 * g["body_b"] + 2 * g["head_r"] + g["bob"] + 2
        return half_w, total_h

    def _geometry(self) -> dict[str, int]:
        s = self.height / 480
        return {
            "leg": round(26 * s),
            "body_a": max(2, round(14 * s)),
            "body_b": max(3, round(34 * s)),
            "head_r": max(2, round(10 * s)),
            "bob": round(2 * s),
            "swing": round(9 * s),
            "thickness": max(1, round(5 * s)),
        }

    def _visitor_pose(self, scene_time: float) -> tuple[int, int, float] | None:
        """``(centre x, foot y, stride phase)`` at ``scene_time``, or None between visits."""
        cycle, in_cycle = divmod(scene_time, self.cycle_seconds)
        progress = (in_cycle - self.visit_start) / self.visit_seconds
        if not 0.0 <= progress < 1.0:
            return None
        if int(cycle) % 2:
            progress = 1.0 - progress
        half_w, _ = self._visitor_size()
        margin = 2 * half_w
        cx = round(-margin + progress * (self.width + 2 * margin))
        foot_y = round(self.height * 0.86)
        phase = (in_cycle - self.visit_start) * 2.0 * math.pi * 1.2
        return cx, foot_y, phase

    def _draw_visitor(self, image: np.ndarray, cx: int, foot_y: int, phase: float) -> None:
        g = self._geometry()
        body_a, body_b, head_r, thickness = g["body_a"], g["body_b"], g["head_r"], g["thickness"]
        hip_y = foot_y - g["leg"]
        bob = round(g["bob"] * abs(math.sin(phase)))
        body_cy = hip_y - body_b + 4 - bob
        swing = round(g["swing"] * math.sin(phase))
        cv2.line(image, (cx, hip_y), (cx + swing, foot_y), _LEG_COLOR, thickness, cv2.LINE_AA)
        cv2.line(image, (cx, hip_y), (cx - swing, foot_y), _LEG_COLOR, thickness, cv2.LINE_AA)
        cv2.ellipse(image, (cx, body_cy), (body_a, body_b), 0, 0, 360, _BODY_COLOR, -1, cv2.LINE_AA)
        head_cy = body_cy - body_b - head_r + 2
        cv2.circle(image, (cx, head_cy), head_r, _HEAD_COLOR, -1, cv2.LINE_AA)

    def _render_background(self) -> np.ndarray:
        w, h = self.width, self.height
        rng = np.random.default_rng(self.seed)
        ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
        xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
        wall = 150 + 40 * ys + 25 * xs
        image = np.empty((h, w, 3), dtype=np.uint8)
        image[..., 0] = np.clip(wall + 10, 0, 255)
        image[..., 1] = np.clip(wall, 0, 255)
        image[..., 2] = np.clip(wall - 15 + 20 * xs, 0, 255)
        floor_y = round(h * 0.72)
        floor = 90 + 50 * np.linspace(0.0, 1.0, h - floor_y, dtype=np.float32)[:, None] + 0 * xs
        image[floor_y:, :, 0] = np.clip(floor * 0.7, 0, 255)
        image[floor_y:, :, 1] = np.clip(floor * 0.85, 0, 255)
        image[floor_y:, :, 2] = np.clip(floor, 0, 255)

        # Fixed furniture: a door, a window and a shelf, so motion detectors have edges to lock on.
        def at(fx: float, fy: float) -> tuple[int, int]:
            return int(w * fx), int(h * fy)

        frame_color = (80, 80, 80)
        cv2.rectangle(image, at(0.08, 0.25), (int(w * 0.22), floor_y), (60, 90, 120), -1)
        cv2.rectangle(image, at(0.55, 0.12), at(0.80, 0.40), (210, 190, 150), -1)
        cv2.rectangle(image, at(0.55, 0.12), at(0.80, 0.40), frame_color, 3)
        cv2.line(image, at(0.675, 0.12), at(0.675, 0.40), frame_color, 2)
        cv2.rectangle(image, at(0.84, 0.45), (int(w * 0.97), floor_y), (50, 70, 90), -1)
        for _ in range(12):
            x0 = int(rng.integers(0, w - 8))
            y0 = int(rng.integers(0, floor_y - 8))
            x1 = min(w - 1, x0 + int(rng.integers(6, max(8, w // 10))))
            y1 = min(floor_y, y0 + int(rng.integers(6, max(8, h // 10))))
            color = tuple(int(c) for c in rng.integers(40, 230, size=3))
            cv2.rectangle(image, (x0, y0), (x1, y1), color, -1)
        noise = rng.normal(0.0, 6.0, size=(h, w)).astype(np.float32)
        texture = cv2.GaussianBlur(noise, (0, 0), 1.5)
        textured = image.astype(np.float32) + texture[..., None]
        return np.clip(textured, 0, 255).astype(np.uint8)
