"""The event lifecycle: when motion becomes an event and when it ends (pure logic)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from camera_app.config.events import EventsConfig


class Transition(enum.Enum):
    START = "start"
    END = "end"


class EndReason(enum.StrEnum):
    MOTION_ENDED = "motion_ended"
    MAX_LENGTH = "max_length"
    SHUTDOWN = "shutdown"
    DISARMED = "disarmed"


@dataclass(frozen=True, slots=True)
class EventChange:
    """A transition decided on the frame with timestamp ``at``.

    For START, ``since`` is the timestamp of the first motion frame of the run that triggered it
    (the event's start); for END, ``reason`` says why.
    """

    transition: Transition
    at: float
    since: float
    reason: EndReason | None = None


class EventTracker:
    """Turns per-frame motion flags into event start/end with hysteresis.

    An event starts only after ``trigger_frames`` consecutive motion frames (one noisy frame is not
    a visitor) and ends only after ``post_roll_s`` without motion (a visitor standing still for a
    moment is still one event). An event reaching ``max_length_s`` ends and, if motion goes on, a
    new one starts on the next frame, so no clip grows without bound.
    """

    def __init__(self, config: EventsConfig) -> None:
        self._cfg = config
        self._run = 0
        self._run_start = 0.0
        self._active_since: float | None = None
        self._last_motion = 0.0
        self._continuation = False  # the last event was split at max length

    @property
    def active(self) -> bool:
        return self._active_since is not None

    def update(self, timestamp: float, motion: bool) -> EventChange | None:
        if motion:
            if self._run == 0 or self._continuation:
                self._run_start = timestamp
                self._continuation = False
            self._run += 1
            self._last_motion = timestamp
        else:
            self._run = 0
            self._continuation = False

        if self._active_since is None:
            if self._run >= self._cfg.trigger_frames:
                self._active_since = self._run_start
                return EventChange(Transition.START, timestamp, self._run_start)
            return None

        if timestamp - self._active_since >= self._cfg.max_length_s:
            return self._end(timestamp, EndReason.MAX_LENGTH)
        if timestamp - self._last_motion >= self._cfg.post_roll_s:
            return self._end(timestamp, EndReason.MOTION_ENDED)
        return None

    def stop(self, timestamp: float, reason: EndReason = EndReason.SHUTDOWN) -> EventChange | None:
        """End an active event now (the service is stopping, or monitoring was disarmed)."""
        if not self.active:
            return None
        change = self._end(timestamp, reason)
        self._run = 0
        return change

    def _end(self, timestamp: float, reason: EndReason) -> EventChange:
        since = self._active_since
        assert since is not None
        self._active_since = None
        # After a split, the next motion frame starts the continuation at once (and at that
        # frame, so the clips join without overlap); otherwise the run must build up again.
        split = reason is EndReason.MAX_LENGTH
        self._run = self._cfg.trigger_frames - 1 if split else 0
        self._continuation = split
        return EventChange(Transition.END, timestamp, since, reason)
