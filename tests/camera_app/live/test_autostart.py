"""The auto-start of merchant streams and the re-attestation reminders, without the HTTP API.

- ``plan_autostart`` (pure): what it decides at the edges of the posted hours, with the gates
  closed, after a manual stop, switched off, on other profiles;
- ``AutoStart`` with the real ``StreamController`` on a real SQLite database, a fixed clock and a
  mock LED: it starts at the first second of the hours (LED on, audited as ``autostart``), stops
  at the end, starts again the next day and after a restart, waits while a gate is closed, and
  leaves a manual stop alone until the next period, also across a restart;
- the controller's reminders: recorded once a day from ``notice_remind_days`` before the lapse,
  the first of each attestation audited, none after the lapse.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from gpiozero.pins.mock import MockFactory

from camera_app.config.streaming import StreamingConfig
from camera_app.live.autostart import (
    ACTOR,
    Action,
    AutoStart,
    AutoStartInputs,
    AutoStartSettings,
    AutoStartState,
    AutoStartUnavailable,
    plan_autostart,
)
from camera_app.live.controller import (
    SYSTEM_ACTOR,
    GatesClosed,
    LiveState,
    LiveStatus,
    StreamController,
)
from firmware.db import open_database
from firmware.indicator import StreamingIndicator
from privacy import audit
from privacy.audit import AuditEvent
from privacy.gates.policy import GateCheck, GateReport
from privacy.gates.roles import Profile
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import CameraInfo
from privacy.registration import Registration, RegistrationStore
from privacy.secrets import DeviceSecretStore, FieldCipher
from testkit.api import make_id, make_uscc
from testkit.clock import FakeClock

TZ = ZoneInfo("Asia/Shanghai")
DAY_S = 86400.0
DAILY_9_TO_21 = Schedule.model_validate(
    {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "09:00",
                  "end": "21:00"}]}
)  # fmt: skip


def local(day: int, hhmm: str, second: float = 0.0) -> float:
    """Unix time of ``hhmm`` (+ ``second``) on November ``day``, 2026, in Shanghai (16 = Mon)."""
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(2026, 11, day, hours, minutes, tzinfo=TZ).timestamp() + second


MON_8 = local(16, "08:00")

# --- plan_autostart (pure) ---------------------------------------------------------------------

OPEN = GateReport("counter", Profile.MERCHANT, (GateCheck("opt_in", True),))
CLOSED = GateReport(
    "counter",
    Profile.MERCHANT,
    (GateCheck("opt_in", True), GateCheck("registration", False, "no registration")),
)


def inputs(at: float, **overrides: Any) -> AutoStartInputs:
    base = AutoStartInputs(
        profile=Profile.MERCHANT,
        enabled=True,
        changed_at=MON_8 - DAY_S,
        paused_until=None,
        hours=DAILY_9_TO_21,
        now=at,
        local_now=datetime.fromtimestamp(at, TZ),
        gates=OPEN,
        status=LiveStatus("counter", LiveState.MONITORING, MON_8 - DAY_S, None),
    )
    return dataclasses.replace(base, **overrides)


def live(since: float, actor: str) -> LiveStatus:
    return LiveStatus("counter", LiveState.STREAMING, since, None, actor)


def stopped(since: float, actor: str) -> LiveStatus:
    return LiveStatus("counter", LiveState.MONITORING, since, "stopped", actor)


@pytest.mark.parametrize(
    ("at", "action", "state"),
    [
        (local(16, "08:59", 59.999), Action.NONE, AutoStartState.WAITING),
        (local(16, "09:00"), Action.START, AutoStartState.STREAMING),  # start inclusive
        (local(16, "20:59", 59.999), Action.START, AutoStartState.STREAMING),
        (local(16, "21:00"), Action.NONE, AutoStartState.WAITING),  # end exclusive
    ],
)
def test_window_edges_when_monitoring(at: float, action: Action, state: AutoStartState) -> None:
    plan = plan_autostart(inputs(at))
    assert (plan.action, plan.state) == (action, state)


def test_next_start_and_stop_inside_and_outside_the_hours() -> None:
    before = plan_autostart(inputs(local(16, "08:00")))
    assert (before.in_hours, before.next_start, before.next_stop) == (
        False,
        local(16, "09:00"),
        local(16, "21:00"),
    )
    inside = plan_autostart(inputs(local(16, "10:00")))
    assert (inside.in_hours, inside.next_start, inside.next_stop) == (
        True,
        local(17, "09:00"),
        local(16, "21:00"),
    )
    after = plan_autostart(inputs(local(16, "22:00")))
    assert (after.next_start, after.next_stop) == (local(17, "09:00"), local(17, "21:00"))


@pytest.mark.parametrize(
    ("at", "actor", "action"),
    [
        (local(16, "20:59", 59.999), ACTOR, Action.NONE),
        (local(16, "21:00"), ACTOR, Action.STOP),  # its own stream: stopped at the end
        (local(16, "21:00"), "owner", Action.NONE),  # a manual one: the notice_hours gate's job
    ],
)
def test_stops_only_its_own_stream_after_the_hours(at: float, actor: str, action: Action) -> None:
    plan = plan_autostart(inputs(at, status=live(local(16, "09:00"), actor)))
    assert plan.action is action
    if action is Action.STOP:
        assert plan.reason == "outside the posted hours"


def test_a_closed_gate_blocks_and_says_which() -> None:
    plan = plan_autostart(inputs(local(16, "10:00"), gates=CLOSED))
    assert plan.action is Action.NONE
    assert plan.state is AutoStartState.BLOCKED and plan.waiting_for == ("registration",)


@pytest.mark.parametrize("who", ["owner", "mqtt", "privacy"])
def test_a_stop_by_hand_inside_the_hours_pauses_until_their_end(who: str) -> None:
    plan = plan_autostart(inputs(local(16, "12:00"), status=stopped(local(16, "11:00"), who)))
    assert plan.action is Action.PAUSE and plan.paused_until == local(16, "21:00")
    # once recorded, it waits; at the end of the pause it is outside the hours anyway
    paused = plan_autostart(
        inputs(
            local(16, "20:59"),
            status=stopped(local(16, "11:00"), who),
            paused_until=local(16, "21:00"),
        )
    )
    assert (paused.action, paused.state) == (Action.NONE, AutoStartState.PAUSED)
    # the next day that old stop does not count: it starts
    tomorrow = plan_autostart(
        inputs(
            local(17, "09:00"),
            status=stopped(local(16, "11:00"), who),
            paused_until=local(16, "21:00"),
        )
    )
    assert tomorrow.action is Action.START


@pytest.mark.parametrize("who", [ACTOR, SYSTEM_ACTOR, "service"])
def test_stops_by_itself_the_gates_or_a_shutdown_do_not_pause(who: str) -> None:
    plan = plan_autostart(inputs(local(16, "12:00"), status=stopped(local(16, "11:00"), who)))
    assert plan.action is Action.START


def test_a_stop_before_the_owner_switched_it_on_does_not_pause() -> None:
    plan = plan_autostart(
        inputs(
            local(16, "12:00"),
            status=stopped(local(16, "11:00"), "owner"),
            changed_at=local(16, "11:30"),
        )
    )
    assert plan.action is Action.START


def test_off_no_hours_and_other_profiles_do_nothing() -> None:
    at = local(16, "10:00")
    off = plan_autostart(inputs(at, enabled=False))
    assert (off.action, off.state) == (Action.NONE, AutoStartState.OFF)
    assert off.next_start == local(17, "09:00")  # still shown: what it would follow
    no_hours = plan_autostart(inputs(at, hours=None))
    assert (no_hours.action, no_hours.state) == (Action.NONE, AutoStartState.NO_HOURS)
    for profile in (Profile.HOME, Profile.KINDERGARTEN):
        other = plan_autostart(inputs(at, profile=profile))
        assert (other.action, other.state) == (Action.NONE, AutoStartState.UNAVAILABLE)


def test_switched_off_it_leaves_its_running_stream_alone() -> None:
    plan = plan_autostart(inputs(local(16, "21:30"), enabled=False, status=live(MON_8, ACTOR)))
    assert plan.action is Action.NONE


# --- AutoStart with the real controller ----------------------------------------------------------

COUNTER = CameraInfo("counter", "Front counter", None, Profile.MERCHANT)
PORCH = CameraInfo("porch", "Porch", None, Profile.HOME)


@dataclasses.dataclass
class Rig:
    path: Path
    conn: sqlite3.Connection
    clock: FakeClock
    factory: MockFactory
    indicator: StreamingIndicator
    registrations: RegistrationStore
    controller: StreamController
    autostart: AutoStart
    closed: bool = False

    @property
    def led(self) -> bool:
        return bool(self.factory.pin(17).state)

    def audit(self, event: AuditEvent) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT actor, camera_id, details FROM audit WHERE event = ? ORDER BY seq",
            (event.value,),
        ).fetchall()
        return [
            {"actor": r[0], "camera_id": r[1], **json.loads(r[2])} for r in rows
        ]  # fmt: skip

    def tick(self) -> None:
        """One second of supervision: the auto-start, then the gates (as ``supervise`` does)."""
        self.autostart.tick()
        self.controller.reevaluate()

    def at(self, when: float) -> None:
        self.clock.advance_to(when)
        self.tick()


def build(tmp_path: Path, clock: FakeClock, factory: MockFactory, **config: Any) -> Rig:
    """The live subsystem's stream controller and auto-start, as ``build_live`` makes them."""
    path = tmp_path / "data" / "camera.db"
    conn = open_database(path)
    audit_log = audit.AuditLog(conn, clock)
    cipher = FieldCipher.from_store(DeviceSecretStore(tmp_path / "data" / "keys" / "device.key"))
    registrations = RegistrationStore(conn, cipher, clock, audit_log)
    indicator = StreamingIndicator(17, pin_factory=factory)
    controller = StreamController(
        conn,
        {c.id: c for c in (COUNTER, PORCH)},
        StreamingConfig(profile=Profile.MERCHANT, **config),
        indicator,
        clock,
        TZ,
        registrations,
        audit_log,
    )
    autostart = AutoStart(controller, AutoStartSettings(conn, clock, audit_log), clock)
    return Rig(path, conn, clock, factory, indicator, registrations, controller, autostart)


def close(rig: Rig) -> None:
    """The service stops (every stream ends, as "service"); the audit chain is intact."""
    if rig.closed:
        return
    rig.closed = True
    rig.controller.stop_all("service", "service stopping")
    assert audit.verify(rig.conn).ok, audit.verify(rig.conn).problems
    rig.indicator.close()
    rig.conn.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = build(tmp_path, FakeClock(MON_8), MockFactory())
    yield made
    close(made)


def ready(rig: Rig, hours: Schedule = DAILY_9_TO_21) -> Registration:
    """Every merchant gate but the hours holds for ``counter``: opted in, registered, a notice
    posted and attested (at 08:00, before the hours)."""
    gates = rig.controller.gates
    gates.opt_in("counter", Profile.MERCHANT, "owner")
    registration = rig.registrations.add("business", "王五", make_id(), make_uscc(), actor="owner")
    gates.add_notice(
        "N-1",
        "counter",
        operator="Shop",
        purpose="Live kitchen",
        contact="shop@example.com",
        hours=hours,
        url="https://shop.example.com/notice/N-1",
        pdf_path="notices/N-1.pdf",
        actor="owner",
    )
    gates.attest_notice("N-1", "owner")
    return registration


def test_starts_inside_the_hours_stops_after_them_and_again_the_next_day(rig: Rig) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    assert rig.audit(AuditEvent.AUTOSTART_ENABLED) == [{"actor": "owner", "camera_id": "counter"}]
    rig.at(local(16, "08:59", 59.5))
    assert not rig.controller.is_live("counter") and not rig.led
    assert rig.autostart.plan("counter").state is AutoStartState.WAITING

    rig.at(local(16, "09:00"))
    status = rig.controller.status("counter")
    assert status.state is LiveState.STREAMING and status.actor == ACTOR
    assert rig.led  # the LED as with a manual start
    (started,) = rig.audit(AuditEvent.STREAM_STARTED)
    assert started == {"actor": ACTOR, "camera_id": "counter", "profile": "merchant"}

    rig.at(local(16, "20:59", 59.5))
    assert rig.controller.is_live("counter")
    rig.at(local(16, "21:00"))
    assert not rig.controller.is_live("counter") and not rig.led
    (stop,) = rig.audit(AuditEvent.STREAM_STOPPED)
    assert stop == {"actor": ACTOR, "camera_id": "counter", "reason": "outside the posted hours"}
    rig.at(local(17, "08:59"))
    assert not rig.controller.is_live("counter")
    rig.at(local(17, "09:00"))
    assert rig.controller.is_live("counter")
    assert len(rig.audit(AuditEvent.STREAM_STARTED)) == 2


def test_starts_again_after_a_restart_inside_the_hours(rig: Rig, tmp_path: Path) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "10:00"))
    assert rig.controller.is_live("counter")
    close(rig)  # the service stops: the stream ends ("service")

    again = build(tmp_path, rig.clock, rig.factory)
    try:
        assert not again.controller.is_live("counter") and not again.led
        again.at(local(16, "10:05"))
        assert again.controller.is_live("counter") and again.led
        assert again.controller.status("counter").actor == ACTOR
    finally:
        close(again)


def test_a_closed_gate_inside_the_hours_waits_and_says_why(rig: Rig) -> None:
    registration = ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.registrations.revoke(registration.id, "shop sold", actor="owner")
    rig.at(local(16, "10:00"))
    assert not rig.controller.is_live("counter") and not rig.led
    plan = rig.autostart.plan("counter")
    assert plan.state is AutoStartState.BLOCKED and plan.waiting_for == ("registration",)
    assert rig.audit(AuditEvent.STREAM_STARTED) == []

    rig.registrations.add("business", "王五", make_id(), make_uscc(), actor="owner")
    rig.at(local(16, "10:01"))
    assert rig.controller.is_live("counter")
    # a gate closing stops it (the gates, not a person): it starts again once the gate holds
    rig.controller.gates.opt_out("counter", "owner")
    rig.at(local(16, "10:02"))
    assert not rig.controller.is_live("counter")
    assert rig.audit(AuditEvent.STREAM_STOPPED)[-1]["actor"] == SYSTEM_ACTOR
    rig.controller.gates.opt_in("counter", Profile.MERCHANT, "owner")
    rig.at(local(16, "10:03"))
    assert rig.controller.is_live("counter")
    assert rig.audit(AuditEvent.AUTOSTART_PAUSED) == []


def test_a_manual_stop_holds_until_the_next_period_even_across_a_restart(
    rig: Rig, tmp_path: Path
) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "10:00"))
    rig.clock.advance_to(local(16, "11:00"))
    rig.controller.stop("counter", "owner", "stopped by the owner")
    rig.tick()
    assert not rig.controller.is_live("counter")
    plan = rig.autostart.plan("counter")
    assert plan.state is AutoStartState.PAUSED and plan.paused_until == local(16, "21:00")
    assert plan.next_start == local(17, "09:00")
    (paused,) = rig.audit(AuditEvent.AUTOSTART_PAUSED)
    assert paused == {
        "actor": ACTOR,
        "camera_id": "counter",
        "until": local(16, "21:00"),
        "stopped_by": "owner",
    }
    for minute in ("11:01", "15:00", "20:59"):
        rig.at(local(16, minute))
        assert not rig.controller.is_live("counter")
    close(rig)

    again = build(tmp_path, rig.clock, rig.factory)
    try:
        again.at(local(16, "20:59", 30))
        assert not again.controller.is_live("counter")  # the pause is kept in the database
        again.at(local(17, "09:00"))
        assert again.controller.is_live("counter")
        assert len(again.audit(AuditEvent.AUTOSTART_PAUSED)) == 1
    finally:
        close(again)


def test_switching_it_on_again_lifts_a_pause_and_starts_at_once(rig: Rig) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "10:00"))
    rig.clock.advance(60)
    rig.controller.stop("counter", "mqtt", "stopped over MQTT")
    rig.tick()
    assert rig.autostart.plan("counter").state is AutoStartState.PAUSED
    rig.clock.advance(60)
    plan = rig.autostart.set_enabled("counter", True, "owner")
    assert plan.action is Action.START and rig.controller.is_live("counter")


def test_a_manual_stream_is_stopped_by_the_hours_gate_and_never_starts_outside(rig: Rig) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.clock.advance_to(local(16, "08:30"))
    with pytest.raises(GatesClosed) as refused:
        rig.controller.start("counter", "owner")
    assert refused.value.report.closed == ["notice_hours"]
    rig.autostart.set_enabled("counter", False, "owner")
    rig.at(local(16, "09:30"))
    assert not rig.controller.is_live("counter")
    rig.controller.start("counter", "owner")
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "21:00"))
    assert not rig.controller.is_live("counter")
    stop = rig.audit(AuditEvent.STREAM_STOPPED)[-1]
    assert stop["actor"] == SYSTEM_ACTOR and "notice_hours" in stop["reason"]


def test_switching_off_leaves_the_stream_running_and_starts_nothing_more(rig: Rig) -> None:
    ready(rig)
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "10:00"))
    rig.clock.advance(1)
    rig.autostart.set_enabled("counter", False, "owner")
    rig.at(local(16, "10:01"))
    assert rig.controller.is_live("counter")
    assert rig.audit(AuditEvent.AUTOSTART_DISABLED) == [{"actor": "owner", "camera_id": "counter"}]
    rig.at(local(16, "21:00"))  # the notice_hours gate ends it
    rig.at(local(17, "10:00"))
    assert not rig.controller.is_live("counter")


def test_other_profiles_are_refused_and_nothing_is_kept(rig: Rig) -> None:
    with pytest.raises(AutoStartUnavailable, match="home profile"):
        rig.autostart.set_enabled("porch", True, "owner")
    assert rig.autostart.settings.get("porch") is None
    assert rig.audit(AuditEvent.AUTOSTART_ENABLED) == []
    assert rig.autostart.plan("porch").state is AutoStartState.UNAVAILABLE


def test_no_hours_without_a_notice(rig: Rig) -> None:
    rig.autostart.set_enabled("counter", True, "owner")
    rig.at(local(16, "10:00"))
    assert rig.autostart.plan("counter").state is AutoStartState.NO_HOURS
    assert not rig.controller.is_live("counter")


# --- re-attestation reminders -----------------------------------------------------------------


def test_reminders_once_a_day_before_the_lapse_the_first_audited(rig: Rig) -> None:
    ready(rig)  # attested Monday 16 November 08:00; lapses 30 days later, 16 December 08:00
    lapse = MON_8 + 30 * DAY_S
    rig.at(lapse - 7 * DAY_S - 1)
    assert rig.controller.reattest_due("counter") is None
    assert rig.audit(AuditEvent.REATTEST_REMINDER) == []
    assert rig.controller.gates.reminders_to_send(rig.controller.today()) == []

    rig.at(lapse - 7 * DAY_S)  # 9 December 08:00
    due = rig.controller.reattest_due("counter")
    assert due is not None and due.to_json(rig.clock.wall()) == {
        "notice_id": "N-1",
        "lapses_at": lapse,
        "date": "2026-12-16",
        "days_left": 7,
        "lapsed": False,
    }
    (reminder,) = rig.controller.gates.reminders_to_send("2026-12-09")
    assert (reminder.camera_id, reminder.notice_id, reminder.lapses_at) == (
        "counter",
        "N-1",
        lapse,
    )
    assert rig.audit(AuditEvent.REATTEST_REMINDER) == [
        {"actor": SYSTEM_ACTOR, "camera_id": "counter", "notice_id": "N-1", "lapses_at": lapse}
    ]
    rig.controller.gates.reminder_sent(reminder)
    rig.at(lapse - 7 * DAY_S + 3600)  # the same day: nothing new
    assert rig.controller.gates.reminders_to_send("2026-12-09") == []

    rig.at(local(16, "00:00") + 24 * DAY_S)  # 10 December, 00:00: a new day
    assert len(rig.controller.gates.reminders_to_send("2026-12-10")) == 1
    assert len(rig.audit(AuditEvent.REATTEST_REMINDER)) == 1  # audited once

    rig.at(lapse)  # lapsed: the gate closes and says so; no more reminders
    due = rig.controller.reattest_due("counter")
    assert due is not None and due.lapsed
    report = rig.controller.report("counter")
    (closed,) = [c for c in report.checks if not c.ok and c.name == "notice_current"]
    assert "attest again" in (closed.reason or "")
    rig.at(lapse + DAY_S)
    assert rig.controller.gates.reminders_to_send("2026-12-17") == []

    # attested again: a new cycle, whose first reminder is audited again
    rig.controller.gates.attest_notice("N-1", "owner")
    assert rig.controller.reattest_due("counter") is None
    rig.at(rig.clock.wall() + 23 * DAY_S)
    assert len(rig.audit(AuditEvent.REATTEST_REMINDER)) == 2


def test_no_reminders_when_switched_off(tmp_path: Path) -> None:
    made = build(tmp_path, FakeClock(MON_8), MockFactory(), notice_remind_days=0)
    try:
        ready(made)
        made.at(MON_8 + 29 * DAY_S)
        assert made.controller.reattest_due("counter") is None
        assert made.audit(AuditEvent.REATTEST_REMINDER) == []
        assert made.conn.execute("SELECT COUNT(*) FROM notice_reminders").fetchone()[0] == 0
    finally:
        close(made)
