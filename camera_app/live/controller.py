"""The per-camera streaming state machine: ``monitoring`` (default) ⇄ ``streaming``.

A camera moves to ``streaming`` only when the owner asks *and* every gate of its profile holds
(``privacy.gates.policy``). The controller re-checks the gates after every change the owner makes
and once a second (the ticker in the API server), and the moment any gate closes it tears the
stream down, switches the LED off, writes ``stream_stopped`` with the closed gates as the reason
and tells its listeners (the WebRTC sessions, issue 5) to end.

The LED is switched on *before* the state becomes ``streaming`` and off only after it has left
it, so there is no moment when a stream is live with the LED dark.

The state is deliberately not persisted: after a restart every camera is back to monitoring, and
the owner starts the stream again (or, for a merchant camera that opted in, the auto-start does
inside the posted hours: ``camera_app.live.autostart``).

Merchant cameras also get re-attestation reminders: from ``notice_remind_days`` before the
posted notice's attestation lapses, one reminder a day is recorded (the first audited), which
the owner app shows and MQTT sends.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from enum import StrEnum

from camera_app.config.streaming import StreamingConfig
from firmware.clock import Clock
from firmware.indicator import StreamingIndicator
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.policy import GateInputs, GateReport, evaluate, notice_lapsed, reattest_due
from privacy.gates.roles import Profile
from privacy.gates.schedule import local_time
from privacy.gates.store import GateStore
from privacy.gates.viewers import CameraInfo, ViewerStore
from privacy.registration import RegistrationStore

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "gates"


class LiveState(StrEnum):
    MONITORING = "monitoring"
    STREAMING = "streaming"


class GatesClosed(RuntimeError):
    """A stream was asked for while some gate of the profile does not hold."""

    def __init__(self, report: GateReport) -> None:
        super().__init__(f"streaming gates closed: {', '.join(report.closed)}")
        self.report = report


class UnknownCamera(LookupError):
    """No camera with that id on this device."""


@dataclass(frozen=True, slots=True)
class LiveStatus:
    camera_id: str
    state: LiveState
    since: float  # wall time of the last change
    reason: str | None  # why the last stop happened
    actor: str | None = None  # who made the last change (started or stopped it); None: nobody


@dataclass(frozen=True, slots=True)
class ReattestDue:
    """A merchant camera's posted notice whose attestation lapses soon (or has lapsed)."""

    notice_id: str
    lapses_at: float
    lapse_date: date  # local date of the lapse
    lapsed: bool

    def to_json(self, now: float) -> dict[str, object]:
        return {
            "notice_id": self.notice_id,
            "lapses_at": self.lapses_at,
            "date": self.lapse_date.isoformat(),
            "days_left": max(0, int((self.lapses_at - now) // 86400)),
            "lapsed": self.lapsed,
        }


StopListener = Callable[[str, str], None]  # (camera_id, reason)


class StreamController:
    """Decides, per camera, whether it streams; the only code that can start a stream."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        cameras: Mapping[str, CameraInfo],
        config: StreamingConfig,
        indicator: StreamingIndicator,
        clock: Clock,
        tz: tzinfo,
        registrations: RegistrationStore,
        audit: AuditLog,
    ) -> None:
        self.cameras = dict(cameras)
        self.config = config
        self.tz = tz
        self._indicator = indicator
        self._clock = clock
        self._audit = audit
        self.gates = GateStore(conn, clock, audit)
        self.viewers = ViewerStore(conn, clock, audit)
        self.registrations = registrations
        self._lock = threading.RLock()
        now = clock.wall()
        self._status = {
            cid: LiveStatus(cid, LiveState.MONITORING, now, None) for cid in self.cameras
        }
        self._listeners: list[StopListener] = []

    # --- queries ------------------------------------------------------------------------------

    def camera(self, camera_id: str) -> CameraInfo:
        try:
            return self.cameras[camera_id]
        except KeyError:
            raise UnknownCamera(camera_id) from None

    def status(self, camera_id: str) -> LiveStatus:
        self.camera(camera_id)
        with self._lock:
            return self._status[camera_id]

    def is_live(self, camera_id: str) -> bool:
        return self.status(camera_id).state is LiveState.STREAMING

    def report(self, camera_id: str) -> GateReport:
        """The state of every gate of the camera's profile, now."""
        camera = self.camera(camera_id)
        now = self._clock.wall()
        inputs = GateInputs(
            camera_id=camera_id,
            profile=camera.profile,
            now=now,
            local_now=local_time(now, self.tz),
            indicator_available=self._indicator.available,
            opt_in=self.gates.current_opt_in(camera_id),
            registrations=tuple(self.registrations.active()),
            live_childcare_permitted=self.config.live_childcare_viewing_permitted,
            consent=self.gates.valid_consent(camera_id),
            notice=self.gates.current_notice(camera_id),
            notice_reconfirm_s=self.config.notice_reconfirm_days * 86400.0,
        )
        return evaluate(inputs)

    def add_stop_listener(self, listener: StopListener) -> None:
        """Call ``listener(camera_id, reason)`` whenever a stream ends, for any reason."""
        self._listeners.append(listener)

    # --- transitions --------------------------------------------------------------------------

    def start(self, camera_id: str, actor: str) -> GateReport:
        """Start streaming if every gate holds; raises :class:`GatesClosed` otherwise."""
        with self._lock:
            report = self.report(camera_id)
            if not report.open:
                log.info("stream of %s refused: gates closed: %s", camera_id, report.closed)
                raise GatesClosed(report)
            if self.is_live(camera_id):
                return report
            self._indicator.set_streaming(True)  # LED first: never live with the LED dark
            self._status[camera_id] = LiveStatus(
                camera_id, LiveState.STREAMING, self._clock.wall(), None, actor
            )
            self._audit.append(
                AuditEvent.STREAM_STARTED,
                actor=actor,
                camera_id=camera_id,
                details={"profile": report.profile},
            )
            log.warning("camera %s is now streaming live (started by %s)", camera_id, actor)
            return report

    def stop(self, camera_id: str, actor: str, reason: str) -> bool:
        """Stop the camera's stream; False when it was not streaming."""
        with self._lock:
            if not self.is_live(camera_id):
                return False
            self._status[camera_id] = LiveStatus(
                camera_id, LiveState.MONITORING, self._clock.wall(), reason, actor
            )
            if not any(s.state is LiveState.STREAMING for s in self._status.values()):
                self._indicator.set_streaming(False)
            self._audit.append(
                AuditEvent.STREAM_STOPPED,
                actor=actor,
                camera_id=camera_id,
                details={"reason": reason},
            )
        log.warning("camera %s stopped streaming: %s", camera_id, reason)
        for listener in list(self._listeners):
            try:
                listener(camera_id, reason)
            except Exception:  # one broken listener must not keep others streaming
                log.exception("stop listener failed for %s", camera_id)
        return True

    def stop_all(self, actor: str, reason: str) -> None:
        for camera_id in self.cameras:
            self.stop(camera_id, actor, reason)

    def reevaluate(self) -> list[str]:
        """Re-check every live camera's gates and run time-based housekeeping.

        Stops each camera whose gates no longer all hold; returns the ids stopped. Also logs a
        lapsed notice attestation once, records the day's re-attestation reminders and revokes
        viewers whose access has expired.
        """
        self._expire_notices()
        self._remind_notices()
        self._expire_viewers()
        closing: list[tuple[str, str]] = []
        with self._lock:
            for camera_id, status in list(self._status.items()):
                if status.state is not LiveState.STREAMING:
                    continue
                report = self.report(camera_id)
                if not report.open:
                    closing.append((camera_id, "gate closed: " + ", ".join(report.closed)))
        # Stopped outside the lock, so stop listeners may call back into the controller.
        return [cid for cid, reason in closing if self.stop(cid, SYSTEM_ACTOR, reason)]

    def _expire_notices(self) -> None:
        period = self.config.notice_reconfirm_days * 86400.0
        now = self._clock.wall()
        for camera_id, camera in self.cameras.items():
            if camera.profile != Profile.MERCHANT:
                continue
            notice = self.gates.current_notice(camera_id)
            if (
                notice is not None
                and notice.attested_at is not None
                and notice.expired_at is None
                and notice_lapsed(notice, now, period)
                and self.gates.mark_notice_expired(
                    notice, actor=SYSTEM_ACTOR, reconfirm_days=self.config.notice_reconfirm_days
                )
            ):
                log.warning(
                    "posted notice %s of %s was not re-confirmed within %d days",
                    notice.id,
                    camera_id,
                    self.config.notice_reconfirm_days,
                )

    def reattest_due(self, camera_id: str) -> ReattestDue | None:
        """The camera's notice attestation if it lapses within ``notice_remind_days`` (or has
        lapsed); None otherwise, and for cameras of other profiles."""
        if self.camera(camera_id).profile != Profile.MERCHANT:
            return None
        notice = self.gates.current_notice(camera_id)
        if notice is None:
            return None
        now = self._clock.wall()
        lapses_at = reattest_due(
            notice,
            now,
            self.config.notice_reconfirm_days * 86400.0,
            self.config.notice_remind_days * 86400.0,
        )
        if lapses_at is None:
            return None
        return ReattestDue(
            notice.id, lapses_at, local_time(lapses_at, self.tz).date(), now >= lapses_at
        )

    def today(self) -> str:
        """The device's local date, YYYY-MM-DD (the day a reminder belongs to)."""
        return local_time(self._clock.wall(), self.tz).date().isoformat()

    def _remind_notices(self) -> None:
        """Record today's reminder for each notice that lapses soon (once a day; the first
        reminder of an attestation is audited). None once it has lapsed: the closed
        ``notice_current`` gate says what to do from then on."""
        if self.config.notice_remind_days == 0:
            return
        for camera_id in self.cameras:
            due = self.reattest_due(camera_id)
            notice = self.gates.current_notice(camera_id)
            if due is None or due.lapsed or notice is None:
                continue
            reminder = self.gates.record_reminder(
                notice, day=self.today(), lapses_at=due.lapses_at, actor=SYSTEM_ACTOR
            )
            if reminder is not None:
                log.warning(
                    "the posted notice of %s must be re-attested before %s, or the stream stops",
                    camera_id,
                    local_time(due.lapses_at, self.tz).strftime("%Y-%m-%d %H:%M"),
                )

    def _expire_viewers(self) -> None:
        for viewer in self.viewers.expired():
            if self.viewers.revoke(viewer.id, "expired", actor=SYSTEM_ACTOR) is not None:
                log.info("viewer %s expired and was revoked", viewer.username)
