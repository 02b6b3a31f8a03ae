"""A merchant stream that starts by itself in the real service: ``camera-app run`` on a test scene,
connected to a real mosquitto. The owner sets the shop up over the API with posted hours that
end about a minute from now and switches the auto-start on; the stream starts, starts again by
itself after a restart inside the hours, and stops when they end. The re-attestation reminder
(``notice_remind_days`` not less than ``notice_reconfirm_days``: due from the attestation on)
reaches the MQTT consumer once, not again after the restart, and is audited once.

The clock is the real one (the service runs in its own process), so the posted window is
computed around the current time; time-outs are generous.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firmware.db import open_database
from privacy.gates.schedule import DAYS
from testkit.api import Client, make_id, make_uscc
from testkit.broker import Collector, MqttBroker, device_mqtt_config
from testkit.net import free_port, wait_until
from testkit.service import OWNER_PASSWORD, owner_of, start_service, stop_service

pytestmark = pytest.mark.slow

CAMERA = "counter"


def _hours_ending_soon(min_left_s: float) -> tuple[dict, float]:
    """Posted hours (UTC) that started a few minutes ago and end at the first whole minute at
    least ``min_left_s`` from now; returns them and the end as Unix time."""
    end = math.ceil((time.time() + min_left_s) / 60) * 60
    end_at = datetime.fromtimestamp(end, UTC)
    start_at = end_at - timedelta(minutes=5)
    window = {
        "days": [DAYS[start_at.weekday()]],
        "start": start_at.strftime("%H:%M"),
        "end": end_at.strftime("%H:%M"),  # 00:00 when it ends at midnight: past midnight
    }
    return {"windows": [window]}, end


def _streaming(owner: Client) -> dict:
    reply = owner.get(f"/api/cameras/{CAMERA}/streaming")
    assert reply.status == 200, reply.body
    return reply.body


def test_merchant_stream_starts_by_itself_inside_the_posted_hours_and_stops_outside(
    mqtt_broker: MqttBroker, tmp_path: Path, write_config: Callable[[dict], Path]
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    config = write_config(
        {
            "camera": {"id": CAMERA, "name": "Front counter", "timezone": "UTC"},
            "storage": {"data_dir": str(data_dir)},
            "api": {"host": "127.0.0.1", "port": port, "tls": False},
            "streaming": {
                "profile": "merchant",
                "public_url": "https://shop-cam.example.com",
                "notice_reconfirm_days": 1,
                "notice_remind_days": 1,
            },
            "mqtt": device_mqtt_config(mqtt_broker, CAMERA),
        }
    )
    consumer = mqtt_broker.client("controller")
    reminders = Collector(consumer, f"camera/{CAMERA}/reminder")
    hours, ends_at = _hours_ending_soon(min_left_s=50)

    proc = start_service(config, "test:")
    try:
        owner = owner_of(port, data_dir)
        assert owner.post(
            "/api/registrations",
            {"kind": "business", "name": "王小明", "resident_id": make_id(), "uscc": make_uscc()},
        ).status == 201  # fmt: skip
        opted = owner.post(
            f"/api/cameras/{CAMERA}/streaming/opt-in", {"confirmation": f"STREAM {CAMERA}"}
        )
        assert opted.status == 200, opted.body
        notice = owner.post(
            f"/api/cameras/{CAMERA}/notices",
            {"operator": "Shop", "purpose": "Live kitchen", "contact": "+86 21 5555 0100",
             "hours": hours},
        )  # fmt: skip
        assert notice.status == 201, notice.body
        attested = owner.post(
            f"/api/notices/{notice.body['id']}/attest", {"confirmation": "posted"}
        )
        assert attested.status == 200, attested.body

        # nothing starts before the owner switches it on
        assert _streaming(owner)["state"] == "monitoring"
        on = owner.post(f"/api/cameras/{CAMERA}/streaming/autostart", {"enabled": True})
        assert on.status == 200, on.body
        assert on.body["autostart"]["next_stop"] == ends_at
        assert wait_until(lambda: _streaming(owner)["state"] == "streaming", timeout=10)

        (reminder,) = reminders.wait_for(1, timeout=15)
        payload = json.loads(reminder.payload)
        assert payload["type"] == "reattest_notice" and payload["camera"] == CAMERA
        assert payload["notice_id"] == notice.body["id"]
        assert payload["lapses_at"] == pytest.approx(time.time() + 86400, abs=120)
        assert _streaming(owner)["reattest_due"]["notice_id"] == notice.body["id"]
    finally:
        err = stop_service(proc)
    assert proc.returncode == 0, err

    # a restart inside the hours: it starts again by itself, nobody asks
    assert time.time() < ends_at - 15, "the test machine is too slow for this window"
    proc = start_service(config, "test:")
    try:
        owner = Client(f"http://127.0.0.1:{port}")
        assert wait_until(lambda: _answers(owner), timeout=30)
        owner = owner.login("owner", OWNER_PASSWORD)
        assert wait_until(lambda: _streaming(owner)["state"] == "streaming", timeout=15)

        # and stops when the posted hours end
        assert wait_until(lambda: time.time() >= ends_at, timeout=ends_at - time.time() + 5)
        assert wait_until(lambda: _streaming(owner)["state"] == "monitoring", timeout=15)
        after = _streaming(owner)
        assert after["last_stop_reason"] == "outside the posted hours"
        assert after["autostart"]["state"] == "waiting"
        assert after["autostart"]["next_start"] > ends_at  # next week's window
        time.sleep(2)  # a couple of ticks more: it stays stopped, and no second reminder
        assert _streaming(owner)["state"] == "monitoring"
        assert len(reminders.messages) == 1
    finally:
        err = stop_service(proc)
    assert proc.returncode == 0, err

    conn = open_database(data_dir / "camera.db")
    try:
        rows = conn.execute(
            "SELECT event, actor, details FROM audit WHERE event IN ('stream_started',"
            " 'stream_stopped', 'autostart_enabled', 'reattest_reminder') ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    trail = [(event, actor, json.loads(details).get("reason")) for event, actor, details in rows]
    # the reminder is recorded at the first tick after the attestation: before or after the start
    assert trail.count(("reattest_reminder", "gates", None)) == 1
    assert [t for t in trail if t[0] != "reattest_reminder"] == [
        ("autostart_enabled", "owner", None),
        ("stream_started", "autostart", None),
        ("stream_stopped", "service", "service stopping"),
        ("stream_started", "autostart", None),
        ("stream_stopped", "autostart", "outside the posted hours"),
    ]


def _answers(client: Client) -> bool:
    try:
        return client.get("/api/health").status == 200
    except OSError:
        return False
