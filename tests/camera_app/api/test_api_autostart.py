"""Auto-start and re-attestation reminders through the owner API: a real server on loopback (its
once-a-second supervision running), a real HTTP client, the clock set by the test.

A merchant's stream starts by itself inside the posted hours once the owner switches it on, and
stops after them; the streaming state says what it follows and why it waits. Other profiles are
refused and bad input changes nothing. From seven days before the notice's attestation lapses,
the state shows the reminder, audited once.
"""

from __future__ import annotations

from datetime import datetime

from testkit.api import MONDAY_10, TZ, ApiFactory, Client, RunningApi, make_uscc
from testkit.gates import DAILY_9_TO_21, audit_events, opt_in, register

DAY_S = 86400.0
SHOP_URL = "https://shop-cam.example.com"
TODAY_21 = datetime(2026, 11, 16, 21, 0, tzinfo=TZ).timestamp()
TOMORROW_9 = datetime(2026, 11, 17, 9, 0, tzinfo=TZ).timestamp()


def merchant(start_api: ApiFactory, **streaming: object) -> tuple[RunningApi, Client]:
    api = start_api(
        {
            "camera": {"id": "counter", "name": "Front counter"},
            "streaming": {"profile": "merchant", "public_url": SHOP_URL, **streaming},
        }
    )
    return api, api.owner()


def post_notice(owner: Client, *, attest: bool = True) -> str:
    made = owner.post(
        "/api/cameras/counter/notices",
        {
            "operator": "Shop",
            "purpose": "Live kitchen",
            "contact": "shop@example.cn",
            "hours": DAILY_9_TO_21,
        },
    )
    assert made.status == 201, made.body
    if attest:
        attested = owner.post(f"/api/notices/{made.body['id']}/attest", {"confirmation": "posted"})
        assert attested.status == 200, attested.body
    return made.body["id"]


def autostart(owner: Client, enabled: object, camera: str = "counter"):
    return owner.post(f"/api/cameras/{camera}/streaming/autostart", {"enabled": enabled})


def state(owner: Client, camera: str = "counter") -> dict:
    reply = owner.get(f"/api/cameras/{camera}/streaming")
    assert reply.status == 200, reply.body
    return reply.body


def test_a_merchant_stream_starts_by_itself_inside_the_posted_hours_and_stops_outside(
    start_api: ApiFactory,
) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    post_notice(owner)
    before = state(owner)["autostart"]
    assert before["enabled"] is False and before["state"] == "off" and before["available"]

    on = autostart(owner, True)  # Monday 10:00, inside 09:00-21:00: it starts at once
    assert on.status == 200, on.body
    assert on.body["state"] == "streaming" and api.led_on()
    auto = on.body["autostart"]
    assert auto["enabled"] is True and auto["state"] == "streaming" and auto["in_hours"]
    assert auto["hours"] == DAILY_9_TO_21
    assert auto["hours_text"] == "Mon–Sun 09:00–21:00"
    assert (auto["next_stop"], auto["next_start"]) == (TODAY_21, TOMORROW_9)

    api.clock.advance_to(TODAY_21)  # the ticker stops it at the end of the hours
    assert api.wait_for(lambda: not api.led_on())
    after = state(owner)
    assert after["state"] == "monitoring"
    assert after["last_stop_reason"] == "outside the posted hours"
    assert after["autostart"]["state"] == "waiting" and after["autostart"]["in_hours"] is False

    api.clock.advance_to(TOMORROW_9)  # and starts it again the next morning
    assert api.wait_for(api.led_on)
    assert state(owner)["state"] == "streaming"

    events = [e for e in audit_events(api) if e["event"].startswith(("autostart", "stream_"))]
    assert [(e["event"], e.get("reason")) for e in events] == [
        ("autostart_enabled", None),
        ("stream_started", None),
        ("stream_stopped", "outside the posted hours"),
        ("stream_started", None),
    ]


def test_it_waits_while_a_gate_is_closed_and_says_which(start_api: ApiFactory) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    assert autostart(owner, True).body["autostart"]["state"] == "no_hours"  # no notice yet
    notice_id = post_notice(owner, attest=False)
    auto = state(owner)["autostart"]
    assert auto["state"] == "blocked"
    assert auto["waiting_for"] == ["notice_posted", "notice_current"]
    assert not api.led_on()

    owner.post(f"/api/notices/{notice_id}/attest", {"confirmation": "posted"})
    assert api.wait_for(api.led_on)  # the ticker starts it once every gate holds


def test_a_manual_stop_is_not_undone_until_the_next_day(start_api: ApiFactory) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    post_notice(owner)
    autostart(owner, True)
    assert api.led_on()
    api.clock.advance(60)
    stopped = owner.post("/api/cameras/counter/streaming/stop")
    assert stopped.status == 200 and not api.led_on()
    assert api.wait_for(lambda: state(owner)["autostart"]["state"] == "paused")
    auto = state(owner)["autostart"]
    assert (auto["paused_until"], auto["next_start"]) == (TODAY_21, TOMORROW_9)
    assert not api.wait_for(api.led_on, timeout=2.5)  # a few ticks: still stopped
    paused = [e for e in audit_events(api) if e["event"] == "autostart_paused"]
    assert len(paused) == 1 and paused[0]["stopped_by"] == "owner"

    api.clock.advance_to(TOMORROW_9)
    assert api.wait_for(api.led_on)


def test_switched_off_it_starts_nothing(start_api: ApiFactory) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    post_notice(owner)
    autostart(owner, True)
    api.clock.advance(60)
    owner.post("/api/cameras/counter/streaming/stop")
    off = autostart(owner, False)
    assert off.status == 200 and off.body["autostart"]["state"] == "off"
    api.clock.advance_to(TOMORROW_9)
    assert not api.wait_for(api.led_on, timeout=2.5)
    assert [e["event"] for e in audit_events(api) if e["event"].startswith("autostart")] == [
        "autostart_enabled",
        "autostart_disabled",
    ]


def test_other_profiles_and_bad_input_are_refused_and_change_nothing(
    start_api: ApiFactory,
) -> None:
    home = start_api()
    owner = home.owner()
    refused = autostart(owner, True, camera="cam1")
    assert refused.status == 409 and refused.error == "autostart_unavailable"
    assert "merchant" in refused.body["reason"] and "home profile" in refused.body["reason"]
    zh = owner.post(
        "/api/cameras/cam1/streaming/autostart",
        {"enabled": True},
        headers={"Accept-Language": "zh-CN"},
    )
    assert zh.status == 409 and "商户" in zh.body["reason"]
    auto = state(owner, "cam1")["autostart"]
    assert auto["available"] is False and auto["enabled"] is False
    assert auto["state"] == "unavailable"

    api, merchant_owner = merchant(start_api)
    for body in ({"enabled": "yes"}, {"enabled": 1}, {}, {"enabled": True, "hours": "9-21"}):
        bad = merchant_owner.post("/api/cameras/counter/streaming/autostart", body)
        assert bad.status == 422, (body, bad.body)
    unknown = autostart(merchant_owner, True, camera="nope")
    assert unknown.status == 404
    assert state(merchant_owner)["autostart"]["enabled"] is False
    for server in (home, api):
        assert not [e for e in audit_events(server) if e["event"].startswith("autostart")]


def test_reattestation_reminder_in_the_streaming_state_audited_once(
    start_api: ApiFactory,
) -> None:
    api, owner = merchant(start_api)
    register(owner, "business", uscc=make_uscc())
    opt_in(owner, "counter")
    notice_id = post_notice(owner)  # attested Monday 16 November 10:00: lapses 16 December
    assert state(owner)["reattest_due"] is None
    api.clock.advance(23 * DAY_S - 60)
    assert not api.wait_for(
        lambda: any(e["event"] == "reattest_reminder" for e in audit_events(api)), timeout=1.5
    )
    assert state(owner)["reattest_due"] is None

    api.clock.advance(60)  # seven days before the lapse
    due = state(owner)["reattest_due"]
    assert due == {
        "notice_id": notice_id,
        "lapses_at": MONDAY_10 + 30 * DAY_S,
        "date": "2026-12-16",
        "days_left": 7,
        "lapsed": False,
    }
    assert api.wait_for(lambda: any(e["event"] == "reattest_reminder" for e in audit_events(api)))
    api.clock.advance(DAY_S)  # another day: another reminder row, no second audit record
    assert api.wait_for(lambda: _reminder_days(api) == 2)
    reminders = [e for e in audit_events(api) if e["event"] == "reattest_reminder"]
    assert reminders == [
        {
            "event": "reattest_reminder",
            "camera_id": "counter",
            "notice_id": notice_id,
            "lapses_at": MONDAY_10 + 30 * DAY_S,
        }
    ]
    owner.post(f"/api/notices/{notice_id}/attest", {"confirmation": "posted"})
    assert state(owner)["reattest_due"] is None


def _reminder_days(api: RunningApi) -> int:
    conn = api.db()
    try:
        return int(conn.execute("SELECT COUNT(*) FROM notice_reminders").fetchone()[0])
    finally:
        conn.close()
