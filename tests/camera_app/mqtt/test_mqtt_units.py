"""MQTT pieces without a broker: command validation and rate limit, the on-disk outbox, the
discovery payload, the config. The broker tests are in test_mqtt_device.py."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from camera_app.config.loader import ConfigError, parse_config
from camera_app.mqtt.commands import Command, RateLimiter, Refusal, parse
from camera_app.mqtt.discovery import discovery_payload
from camera_app.mqtt.integration import reminder_payload
from camera_app.mqtt.outbox import Outbox
from camera_app.mqtt.topics import Topics
from firmware.db import open_database
from privacy.gates.store import NoticeReminder
from testkit.clock import FakeClock
from testkit.mqtt_payloads import MALFORMED


def test_well_formed_commands_parse() -> None:
    limiter = RateLimiter(600)
    arm = parse("arm", b"", limiter)
    assert isinstance(arm, Command) and arm.name == "arm" and arm.request_id is None
    snap = parse("snapshot", b'{"request_id": "r-1", "camera": "cam1"}', limiter)
    assert isinstance(snap, Command) and snap.camera == "cam1" and snap.request_id == "r-1"
    stop = parse("stop_stream", b"{}", limiter)
    assert isinstance(stop, Command) and stop.camera is None


def test_malformed_commands_are_refused_with_a_reason() -> None:
    assert len(MALFORMED) >= 50
    limiter = RateLimiter(600)
    for name, payload in MALFORMED:
        outcome = parse(name, payload, limiter)
        assert isinstance(outcome, Refusal), (name, payload[:40])
        assert outcome.error and outcome.reason
    refused = parse("start_stream", b'{"request_id": "q1"}', limiter)
    assert isinstance(refused, Refusal) and refused.error == "not_allowed"
    assert refused.request_id == "q1" and "gates" in refused.reason


def test_rate_limit_refills(clock: FakeClock) -> None:
    limiter = RateLimiter(3, clock.monotonic)  # time moves only when the test says
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    refused = parse("arm", b"{}", limiter)
    assert isinstance(refused, Refusal) and refused.error == "rate_limited"
    clock.advance(20.0)  # one command per 20 s
    assert limiter.allow() and not limiter.allow()


def _outbox(tmp_path: Path, max_rows: int = 100) -> tuple[Outbox, sqlite3.Connection]:
    conn = open_database(tmp_path / "camera.db")
    return Outbox(conn, max_rows), conn


def test_outbox_keeps_order_until_delivered_and_survives_a_restart(tmp_path: Path) -> None:
    outbox, conn = _outbox(tmp_path)
    seqs = [outbox.add("t", f"{i}".encode(), float(i)) for i in range(5)]
    outbox.delivered(seqs[1])
    conn.close()
    reopened, conn = _outbox(tmp_path)  # a device restart
    assert [p.payload for p in reopened.pending()] == [b"0", b"2", b"3", b"4"]
    assert [p.payload for p in reopened.pending(after=seqs[2])] == [b"3", b"4"]
    assert len(reopened) == 4
    conn.close()


def test_outbox_is_bounded_and_drops_the_oldest(tmp_path: Path) -> None:
    outbox, conn = _outbox(tmp_path, max_rows=100)
    for i in range(130):
        outbox.add("t", f"{i}".encode(), float(i))
    pending = outbox.pending(limit=1000)
    assert len(pending) == 100 and pending[0].payload == b"30" and outbox.dropped == 30
    conn.close()


def test_discovery_describes_the_device_and_offers_no_stream_start() -> None:
    topics = Topics("camera", "cam-a")
    payload = json.loads(discovery_payload(topics, "Front door"))
    assert payload["dev"]["ids"] == ["camera-app-cam-a"] and payload["dev"]["name"] == "Front door"
    assert payload["o"]["name"] == "camera-app"
    assert payload["availability_topic"] == "camera/cam-a/availability"
    cmps = payload["cmps"]
    assert cmps["motion"]["p"] == "binary_sensor" and cmps["motion"]["device_class"] == "motion"
    assert {c["unique_id"] for c in cmps.values()} == {f"cam-a_{k}" for k in cmps}
    commands = {c["command_topic"] for c in cmps.values() if "command_topic" in c}
    names = ("arm", "disarm", "snapshot", "stop_stream")
    assert commands == {f"camera/cam-a/cmd/{n}" for n in names}
    assert not any("start" in topic for topic in commands)
    assert topics.discovery == "homeassistant/device/cam-a/config"


def test_discovery_gives_each_of_several_cameras_its_own_entities() -> None:
    topics = Topics("camera", "kg1")
    cameras = [("door", "Front door"), ("yard-2", "Yard")]
    cmps = json.loads(discovery_payload(topics, "Front door", cameras))["cmps"]
    ids = [c["unique_id"] for c in cmps.values()]
    assert len(ids) == len(set(ids))  # unique
    for camera, label in cameras:
        mine = {k: c for k, c in cmps.items() if k.startswith(f"{camera}_")}
        assert set(mine) == {
            f"{camera}_{what}"
            for what in ("motion", "streaming", "fps", "dropped_frames", "snapshot", "stop_stream")
        }
        # stable ids: the device's, the camera's and what it is
        assert {c["unique_id"] for c in mine.values()} == {f"kg1_{k}" for k in mine}
        assert mine[f"{camera}_motion"]["name"] == f"{label} motion"
        # state and health carry the camera under cameras.<id> (ids may have "-")
        assert (
            f'value_json.cameras["{camera}"].motion' in mine[f"{camera}_motion"]["value_template"]
        )
        assert mine[f"{camera}_fps"]["state_topic"] == "camera/kg1/health"
        assert mine[f"{camera}_fps"]["value_template"] == (
            f'{{{{ value_json.cameras["{camera}"].fps }}}}'
        )
        snapshot = mine[f"{camera}_snapshot"]
        assert snapshot["command_topic"] == "camera/kg1/cmd/snapshot"
        assert json.loads(snapshot["payload_press"]) == {"camera": camera}
    # the device's own: any camera's motion, armed, storage; no device-wide snapshot any more
    assert {"motion", "armed", "streaming", "disk_free_mb", "arm", "disarm"} <= set(cmps)
    assert not {"snapshot", "stop_stream", "fps"} & set(cmps)
    assert not any("start" in c.get("command_topic", "") for c in cmps.values())
    # one camera: the message as it always was
    one = json.loads(discovery_payload(topics, "Front door", cameras[:1]))["cmps"]
    assert one == json.loads(discovery_payload(topics, "Front door"))["cmps"]


def test_mqtt_config_requires_tls_material(tmp_path: Path) -> None:
    assert parse_config({}).mqtt.enabled is False
    with pytest.raises(ConfigError, match="cert_file"):
        parse_config({"mqtt": {"enabled": True, "host": "broker.lan", "ca_file": "/ca.pem"}})
    with pytest.raises(ConfigError, match="loopback"):
        parse_config({"mqtt": {"enabled": True, "host": "broker.lan", "tls": False}})
    for bad_id in ("cam/1", "cam+", "#", ""):
        with pytest.raises(ConfigError, match="device_id"):
            parse_config({"mqtt": {"device_id": bad_id}})
    config_file = tmp_path / "c.yaml"
    config_file.write_text(
        "mqtt: {enabled: true, host: broker.lan, ca_file: certs/ca.crt, cert_file: certs/d.crt,"
        " key_file: certs/d.key}\n"
    )
    from camera_app.config.loader import load_config

    loaded = load_config(config_file)
    assert loaded.mqtt.ca_file == (tmp_path / "certs" / "ca.crt").resolve()


def test_reminder_payload_names_the_lapse_in_local_time_and_nothing_personal() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    lapses_at = datetime(2026, 12, 16, 10, 0, tzinfo=tz).timestamp()
    reminder = NoticeReminder("N-1", lapses_at - 30 * 86400, "2026-12-09", "counter", lapses_at, 0)
    payload = reminder_payload(reminder, tz, lapses_at - 6.5 * 86400)
    assert payload == {
        "type": "reattest_notice",
        "camera": "counter",
        "notice_id": "N-1",
        "lapses_at": lapses_at,
        "lapse_date": "2026-12-16",
        "days_left": 6,
        "message": "Confirm in the app that the posted notice is still up before "
        "2026-12-16 10:00, or the live stream stops",
        "message_zh": "请在 2026-12-16 10:00 前在应用中确认提示牌仍在张贴，否则直播将停止",
    }
    assert Topics("camera", "counter").reminder == "camera/counter/reminder"
