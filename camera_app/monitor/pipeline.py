"""The monitoring path: motion → event lifecycle → clip, snapshot and index, with retention."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from camera_app.config.app import AppConfig
from camera_app.monitor.events import EndReason, EventChange, EventTracker, Transition
from camera_app.monitor.preroll import PreRollBuffer
from camera_app.monitor.recorder import ClipRecorder, free_bytes
from camera_app.monitor.store import EventStore
from camera_app.monitor.upkeep import MB, RetentionSweeper
from firmware.clock import Clock
from firmware.frames import Frame
from firmware.masks import PrivacyMasker
from firmware.motion.detector import MotionDetector, MotionResult
from firmware.paths import StoragePaths

log = logging.getLogger(__name__)

RETENTION_INTERVAL_S = 10.0
# The pre-roll buffer never holds more than this many frames, whatever the config asks.
MAX_PREROLL_FRAMES = 600


def new_event_id(wall: float) -> str:
    """Sortable and readable (``20261121-103000-a1b2c3``), unguessable in its last part."""
    stamp = datetime.fromtimestamp(wall, UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


EventListener = Callable[[dict[str, Any]], None]


class MonitoringPipeline:
    """Feeds every frame through motion detection and records events.

    ``armed`` false (disarmed, e.g. while the owner is home) ends an open event and starts no new
    one; frames still flow (the live path does not depend on it). ``listeners`` hear of every
    event start and end (MQTT), with the event id and references to its snapshot and clip, never
    an image.

    Times in the index are wall-clock, derived from the frames' monotonic timestamps through the
    offset seen on the first frame, so a file read faster than real time still gives event
    lengths in media time. ``blocking`` says whether the recorder may hold up the caller (file
    sources) or must drop frames instead (live cameras).
    """

    def __init__(
        self,
        config: AppConfig,
        store: EventStore,
        paths: StoragePaths,
        clock: Clock,
        *,
        blocking: bool,
    ) -> None:
        self._cfg = config
        self._store = store
        self._paths = paths
        self._clock = clock
        self._blocking = blocking
        fps = config.capture.fps
        ev = config.events
        self.motion = MotionDetector(config.motion, [m.points for m in config.motion.masks])
        self.tracker = EventTracker(ev)
        horizon = ev.pre_roll_s + ev.trigger_frames / fps + 1.0
        self._preroll = PreRollBuffer(horizon, min(MAX_PREROLL_FRAMES, round(horizon * fps) + 2))
        self.recorder = ClipRecorder(store, paths, config.recording, config.camera.id, fps)
        self.sweeper = RetentionSweeper(store, paths, config.storage)
        self._wall_offset: float | None = None
        self._active_id: str | None = None
        self._peak = 0.0
        self._next_sweep = 0.0
        self._recorded_until = float("-inf")  # timestamp of the last frame of the last clip
        self._last_ts = 0.0
        self.events_started = 0
        self.armed = True
        self.listeners: list[EventListener] = []
        self._active_clip: str | None = None

    def wall_time(self, timestamp: float) -> float:
        if self._wall_offset is None:
            self._wall_offset = self._clock.wall() - timestamp
        return self._wall_offset + timestamp

    def process(self, frame: Frame) -> MotionResult:
        """Handle one frame; returns what the motion detector saw."""
        self.wall_time(frame.timestamp)
        self._last_ts = frame.timestamp
        result = self.motion.process(frame.image)
        self._preroll.push(frame)
        change = self.tracker.update(frame.timestamp, result.motion and self.armed)
        if self._active_id is not None:
            self._peak = max(self._peak, result.area)
            if change is None or change.transition is not Transition.START:
                self.recorder.add(frame, block=self._blocking)
        if change is not None:
            self._apply(change, frame)
        if frame.timestamp >= self._next_sweep:
            self._next_sweep = frame.timestamp + RETENTION_INTERVAL_S
            self._sweep()
        return result

    def use_masks(
        self, motion_masks: Sequence[Sequence[tuple[float, float]]], masker: PrivacyMasker
    ) -> None:
        """The owner saved new masks: motion in ``motion_masks`` is ignored from the next frame,
        and the privacy masks of ``masker`` are burned into the pre-roll frames kept, so the next
        clip shows none of what they hide even in the seconds before its trigger (the capture
        feed burns them into every new frame). The motion detector re-learns its background:
        an area newly filled (or uncovered) by a privacy mask would otherwise look like motion
        and start an event of nothing."""
        self.motion.set_masks(motion_masks)
        self.motion.relearn()
        if masker:
            self._preroll.remask(masker)

    @property
    def motion_active(self) -> bool:
        return self._active_id is not None

    def set_armed(self, armed: bool) -> None:
        """Arm or disarm; disarming ends the open event at once (reason ``disarmed``)."""
        if armed == self.armed:
            return
        self.armed = armed
        log.info("monitoring %s", "armed" if armed else "disarmed")
        if not armed:
            change = self.tracker.stop(self._last_ts, EndReason.DISARMED)
            if change is not None:
                self._end(change)

    def _tell(self, notice: dict[str, Any]) -> None:
        for listener in self.listeners:
            try:
                listener(notice)
            except Exception:  # an integration must never stop the recording
                log.exception("event listener failed")

    def _apply(self, change: EventChange, frame: Frame) -> None:
        if change.transition is Transition.START:
            self._start(change, frame)
        else:
            self._end(change)

    def _start(self, change: EventChange, frame: Frame) -> None:
        started = self.wall_time(change.since)
        event_id = new_event_id(started)
        day = datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d")
        record, note, budget = self._plan_recording()
        clip_rel = (
            self._paths.relative(self._paths.clip_for(self._cfg.camera.id, day, event_id))
            if record
            else None
        )
        self._store.open_event(event_id, self._cfg.camera.id, started, clip_rel, note)
        # Pre-roll never reaches back into frames the previous clip already holds.
        frames = [
            f
            for f in self._preroll.since(change.since - self._cfg.events.pre_roll_s)
            if f.timestamp > self._recorded_until
        ]
        self.recorder.start(
            event_id, day, frames, frame, record=record, note=note, budget_bytes=budget
        )
        self._active_id = event_id
        self._active_clip = clip_rel
        self._peak = 0.0
        self.events_started += 1
        log.info("event %s started (%d pre-roll frames)", event_id, len(frames))
        snapshot = self._paths.snapshot_for(self._cfg.camera.id, day, event_id)
        self._tell(
            {
                "type": "start",
                "event_id": event_id,
                "camera": self._cfg.camera.id,
                "at": started,
                "snapshot": self._paths.relative(snapshot),
            }
        )

    def _end(self, change: EventChange) -> None:
        assert change.reason is not None
        self._recorded_until = change.at
        ended = self.wall_time(change.at)
        self.recorder.end(ended, change.reason.value, self._peak)
        event_id, self._active_id = self._active_id, None
        self._tell(
            {
                "type": "end",
                "event_id": event_id,
                "camera": self._cfg.camera.id,
                "at": ended,
                "reason": change.reason.value,
                "clip": self._active_clip,
            }
        )

    def _plan_recording(self) -> tuple[bool, str | None, int | None]:
        """Whether to record the new event, why not, and the clip's byte budget."""
        if not self._cfg.recording.enabled:
            return False, None, None
        min_free = int(self._cfg.storage.min_free_mb * MB)
        try:
            free = free_bytes(self._paths.root)
        except OSError as err:
            return False, f"recording skipped: storage unavailable ({err})", None
        if free < min_free:
            log.warning(
                "only %d MB free on the data disk; event indexed without a clip", free // MB
            )
            note = f"recording skipped: less than {self._cfg.storage.min_free_mb:g} MB free"
            return False, note, None
        budget = self.sweeper.quota_bytes - self._sweep()
        if budget <= 0:
            log.warning("storage quota full and nothing left to delete; event without a clip")
            return False, "recording skipped: storage quota full", None
        return True, None, budget

    def _sweep(self) -> int:
        """Apply retention; return the bytes used by everything but the active clip."""
        active_bytes = self.recorder.active_bytes
        used = self.sweeper.sweep(self.wall_time(self._last_ts), self._active_id, active_bytes)
        return used - active_bytes

    def close(self) -> None:
        """End any open event (its clip is finalised) and stop the recorder."""
        change = self.tracker.stop(self._last_ts)
        if change is not None:
            self._end(change)
        self.recorder.stop()
