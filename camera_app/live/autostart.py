"""A merchant camera whose stream starts by itself inside the posted hours, and stops after them.

The owner opts in per camera (merchant profile only: the hours it follows are the ones printed
on the posted-notice sign). Once a second the supervision asks :meth:`AutoStart.tick`, which
decides with the pure :func:`plan_autostart` and acts through the stream controller, so the
gates, the LED and the audit log work exactly as for a manual start (the actor is
``autostart``):

- inside the posted hours, opted in, every gate holding and not streaming → **start**; after a
  restart inside the hours it starts again, since the opt-in is kept in the database;
- inside the hours but a gate is closed → no start; the state is ``blocked`` and names the
  closed gates (it starts by itself once they hold);
- outside the hours → **stop**, if autostart started the stream. A stream the owner started by
  hand is stopped at the same moment by the ``notice_hours`` gate (no merchant stream runs
  outside the posted hours, whoever started it), so there is no manual stream outside the hours
  to leave alone;
- a stop by a person (the owner in the app, MQTT's ``stop_stream``) or by the privacy stage
  failing, inside the hours, **pauses** the auto-start until the end of that period of the
  posted hours (kept in the database, so a restart does not undo it); it starts again in the
  next period. Enabling the auto-start again, or starting by hand, is how the owner lifts it
  earlier. Stops by the gates or by the service shutting down do not pause it;
- switching the auto-start off leaves a running stream alone (the owner stops it, or the hours
  end); it only means no further automatic starts.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from camera_app.live.controller import (
    SYSTEM_ACTOR,
    GatesClosed,
    LiveState,
    LiveStatus,
    StreamController,
)
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.policy import GateReport
from privacy.gates.roles import Profile
from privacy.gates.schedule import Schedule, local_time

log = logging.getLogger(__name__)

ACTOR = "autostart"
# Who may stop a stream without pausing the auto-start: itself, the gates (it starts again once
# they hold) and the service shutting down (it starts again after the restart).
_NOT_PAUSING = frozenset({ACTOR, SYSTEM_ACTOR, "service"})


class AutoStartState(StrEnum):
    """What the auto-start of one camera is doing, for the owner app."""

    UNAVAILABLE = "unavailable"  # not a merchant camera
    OFF = "off"  # the owner has not opted in
    NO_HOURS = "no_hours"  # no posted notice, so no hours to follow
    WAITING = "waiting"  # outside the posted hours; starts at next_start
    BLOCKED = "blocked"  # inside the hours, but a gate is closed (waiting_for)
    PAUSED = "paused"  # stopped by hand inside the hours; starts again at next_start
    STREAMING = "streaming"  # inside the hours and live (or starting now)


class Action(StrEnum):
    NONE = "none"
    START = "start"
    STOP = "stop"
    PAUSE = "pause"  # remember a manual stop: no automatic start until pause_until


@dataclass(frozen=True, slots=True)
class AutoStartInputs:
    """What the decision looks at, gathered at one moment."""

    profile: Profile
    enabled: bool
    changed_at: float | None  # when the owner last switched it on or off
    paused_until: float | None
    hours: Schedule | None  # the posted hours of the camera's notice in force
    now: float
    local_now: datetime
    gates: GateReport
    status: LiveStatus


@dataclass(frozen=True, slots=True)
class AutoStartPlan:
    action: Action
    state: AutoStartState
    in_hours: bool = False
    next_start: float | None = None  # the next automatic start (start of the next period)
    next_stop: float | None = None  # end of the current period, else of the next one
    waiting_for: tuple[str, ...] = ()  # closed gates while blocked
    paused_until: float | None = None
    reason: str | None = None  # why it stops


def plan_autostart(i: AutoStartInputs) -> AutoStartPlan:
    """Decide what the auto-start does now (pure; see the module docstring for the rules)."""
    if i.profile != Profile.MERCHANT:
        return AutoStartPlan(Action.NONE, AutoStartState.UNAVAILABLE)
    if i.hours is None:
        state = AutoStartState.NO_HOURS if i.enabled else AutoStartState.OFF
        return AutoStartPlan(Action.NONE, state)
    period = i.hours.period(i.local_now)
    following = i.hours.next_period(i.local_now)
    in_hours = period is not None
    next_start = following[0].timestamp()
    next_stop = (period or following)[1].timestamp()

    base = AutoStartPlan(Action.NONE, AutoStartState.OFF, in_hours, next_start, next_stop)
    live = i.status.state is LiveState.STREAMING
    if not i.enabled:
        return base
    if live:
        if not in_hours and i.status.actor == ACTOR:
            return replace(
                base,
                action=Action.STOP,
                state=AutoStartState.WAITING,
                reason="outside the posted hours",
            )
        return replace(base, state=AutoStartState.STREAMING)
    if period is None:
        return replace(base, state=AutoStartState.WAITING)
    if i.paused_until is not None and i.now < i.paused_until:
        return replace(base, state=AutoStartState.PAUSED, paused_until=i.paused_until)
    stopped_by_hand = (
        i.status.actor is not None
        and i.status.actor not in _NOT_PAUSING
        and i.status.since >= period[0].timestamp()
        and (i.changed_at is None or i.status.since > i.changed_at)
    )
    if stopped_by_hand:
        return replace(
            base, action=Action.PAUSE, state=AutoStartState.PAUSED, paused_until=next_stop
        )
    if not i.gates.open:
        return replace(base, state=AutoStartState.BLOCKED, waiting_for=tuple(i.gates.closed))
    return replace(base, action=Action.START, state=AutoStartState.STREAMING)


# --- the owner's choice, in the database ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AutoStartSetting:
    camera_id: str
    enabled: bool
    changed_at: float
    changed_by: str
    paused_until: float | None


class AutoStartSettings:
    """The per-camera opt-in to auto-start and its pause; every change is audited here."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def get(self, camera_id: str) -> AutoStartSetting | None:
        row = self._conn.execute(
            "SELECT camera_id, enabled, changed_at, changed_by, paused_until"
            " FROM streaming_autostart WHERE camera_id = ?",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        cid, enabled, changed_at, changed_by, paused_until = tuple(row)
        return AutoStartSetting(cid, bool(enabled), changed_at, changed_by, paused_until)

    def set_enabled(self, camera_id: str, enabled: bool, actor: str) -> AutoStartSetting:
        """Switch it on or off (audited, also when unchanged: the owner confirmed it); lifts a
        pause."""
        now = self._clock.wall()
        self._conn.execute(
            "INSERT INTO streaming_autostart (camera_id, enabled, changed_at, changed_by)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (camera_id) DO UPDATE SET enabled = excluded.enabled,"
            " changed_at = excluded.changed_at, changed_by = excluded.changed_by,"
            " paused_until = NULL",
            (camera_id, int(enabled), now, actor),
        )
        self._audit.append(
            AuditEvent.AUTOSTART_ENABLED if enabled else AuditEvent.AUTOSTART_DISABLED,
            actor=actor,
            camera_id=camera_id,
        )
        setting = self.get(camera_id)
        assert setting is not None
        return setting

    def pause(self, camera_id: str, until: float, *, stopped_by: str) -> None:
        """No automatic start before ``until`` (audited): someone stopped the stream by hand."""
        self._conn.execute(
            "UPDATE streaming_autostart SET paused_until = ? WHERE camera_id = ?",
            (until, camera_id),
        )
        self._audit.append(
            AuditEvent.AUTOSTART_PAUSED,
            actor=ACTOR,
            camera_id=camera_id,
            details={"until": until, "stopped_by": stopped_by},
        )


# --- acting on the plan --------------------------------------------------------------------------


class AutoStartUnavailable(ValueError):
    """Auto-start was asked for on a camera that is not a merchant camera."""


class AutoStart:
    """Runs the auto-start of every camera through the stream controller; on the supervision's
    event loop."""

    def __init__(
        self, controller: StreamController, settings: AutoStartSettings, clock: Clock
    ) -> None:
        self._controller = controller
        self.settings = settings
        self._clock = clock

    def plan(self, camera_id: str) -> AutoStartPlan:
        controller = self._controller
        camera = controller.camera(camera_id)
        setting = self.settings.get(camera_id)
        notice = controller.gates.current_notice(camera_id)
        now = self._clock.wall()
        return plan_autostart(
            AutoStartInputs(
                profile=camera.profile,
                enabled=setting is not None and setting.enabled,
                changed_at=setting.changed_at if setting else None,
                paused_until=setting.paused_until if setting else None,
                hours=notice.hours if notice is not None else None,
                now=now,
                local_now=local_time(now, controller.tz),
                gates=controller.report(camera_id),
                status=controller.status(camera_id),
            )
        )

    def set_enabled(self, camera_id: str, enabled: bool, actor: str) -> AutoStartPlan:
        """The owner switches it on or off; when on inside the hours it starts at once."""
        profile = self._controller.camera(camera_id).profile
        if profile != Profile.MERCHANT:
            raise AutoStartUnavailable(
                f"auto-start follows the hours on a merchant's posted notice; this camera "
                f"streams with the {profile} profile, which has no posted hours"
            )
        self.settings.set_enabled(camera_id, enabled, actor)
        return self.step(camera_id)

    def tick(self) -> None:
        for camera_id in self._controller.cameras:
            self.step(camera_id)

    def step(self, camera_id: str) -> AutoStartPlan:
        """Decide for one camera and act; returns the plan."""
        plan = self.plan(camera_id)
        controller = self._controller
        if plan.action is Action.START:
            try:
                controller.start(camera_id, ACTOR)
            except GatesClosed as err:  # a gate closed since the plan was made
                log.info("auto-start of %s waits: gates closed: %s", camera_id, err.report.closed)
            else:
                log.info("auto-start: %s started inside the posted hours", camera_id)
        elif plan.action is Action.STOP:
            controller.stop(camera_id, ACTOR, plan.reason or "outside the posted hours")
        elif plan.action is Action.PAUSE:
            assert plan.paused_until is not None
            stopped_by = controller.status(camera_id).actor or "unknown"
            self.settings.pause(camera_id, plan.paused_until, stopped_by=stopped_by)
            log.info(
                "auto-start of %s paused until the end of the posted hours: stopped by %s",
                camera_id,
                stopped_by,
            )
        return plan

    def to_json(self, camera_id: str) -> dict[str, object]:
        """The auto-start part of the streaming state."""
        plan = self.plan(camera_id)
        setting = self.settings.get(camera_id)
        notice = self._controller.gates.current_notice(camera_id)
        hours = notice.hours if notice is not None else None
        return {
            "available": plan.state is not AutoStartState.UNAVAILABLE,
            "enabled": setting is not None and setting.enabled,
            "state": plan.state.value,
            "hours": hours.model_dump() if hours else None,
            "hours_text": hours.describe() if hours else None,
            "hours_text_zh": hours.describe("zh") if hours else None,
            "in_hours": plan.in_hours,
            "next_start": plan.next_start,
            "next_stop": plan.next_stop,
            "waiting_for": list(plan.waiting_for),
            "paused_until": plan.paused_until,
        }
