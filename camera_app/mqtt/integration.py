"""MQTT in the service: events, reminders, state and health out, commands in.

Commands arrive on MQTT's thread and are queued; the service's watching thread runs them
(``tick``, a few times a second). Arming and disarming only record the wish: each camera's
capture loop applies it to its own pipeline before its next frame, so nothing races a
monitoring pipeline; a snapshot takes the camera's newest picture (frames are read-only). The
armed state is kept in the database, so a disarmed camera stays disarmed after a restart.

Topics: one camera keeps the device's topics (``<base>/events/motion``). With several cameras
each camera's events go to ``<base>/cameras/<camera id>/events/motion`` (the payload names the
camera either way), and the health message has each camera's figures under ``cameras``.
"""

from __future__ import annotations

import logging
import queue
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import Any

import cv2

from camera_app.config.app import AppConfig
from camera_app.health import soc_temperature
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.mqtt.bridge import MqttBridge
from camera_app.mqtt.commands import Command
from camera_app.mqtt.outbox import Outbox
from camera_app.mqtt.topics import Topics
from camera_app.preview import LatestPicture
from camera_app.update.status import load_update_status
from firmware.capture.feed import FeedStats
from firmware.clock import Clock
from firmware.db import open_database
from firmware.paths import StoragePaths
from privacy.gates.store import NoticeReminder

log = logging.getLogger(__name__)

ACTOR = "mqtt"
STATE_CHECK_S = 1.0
UPDATE_CHECK_S = 30.0  # the update state changes rarely; state.json is re-read this often


class StreamControl:
    """What MQTT may do to live streams: read their state, and stop one. Never start one. And
    the re-attestation reminders it sends: today's not yet sent, and marking one sent."""

    def __init__(
        self,
        states: Callable[[], dict[str, dict[str, Any]]],
        stop: Callable[[str, str, str], bool],
        reminders: Callable[[], list[NoticeReminder]],
        reminder_sent: Callable[[NoticeReminder], None],
    ) -> None:
        self.states = states
        self.stop = stop
        self.reminders = reminders
        self.reminder_sent = reminder_sent


@dataclass(frozen=True, slots=True)
class MqttCamera:
    """What MQTT reads of one camera: its events, its newest picture and its capture counters."""

    pipeline: MonitoringPipeline
    picture: LatestPicture
    stats: Callable[[], FeedStats]


def reminder_payload(reminder: NoticeReminder, tz: tzinfo, now: float) -> dict[str, Any]:
    """The JSON of a re-attestation reminder (no personal data: ids, times and the words)."""
    lapse = datetime.fromtimestamp(reminder.lapses_at, tz)
    days = max(0, int((reminder.lapses_at - now) // 86400))
    return {
        "type": "reattest_notice",
        "camera": reminder.camera_id,
        "notice_id": reminder.notice_id,
        "lapses_at": reminder.lapses_at,
        "lapse_date": lapse.date().isoformat(),
        "days_left": days,
        "message": f"Confirm in the app that the posted notice is still up before "
        f"{lapse:%Y-%m-%d %H:%M}, or the live stream stops",
        "message_zh": f"请在 {lapse:%Y-%m-%d %H:%M} 前在应用中确认提示牌仍在张贴，否则直播将停止",
    }


class MqttIntegration:
    def __init__(
        self,
        config: AppConfig,
        clock: Clock,
        cameras: Mapping[str, MqttCamera],
        control: MonitoringControl,
        paths: StoragePaths,
        streams: StreamControl | None,
    ) -> None:
        cfg = config.mqtt
        self._config = config
        self._clock = clock
        self._cameras = dict(cameras)
        self._control = control
        self._paths = paths
        self._streams = streams
        self._commands: queue.Queue[Command] = queue.Queue(maxsize=100)
        first = config.first_camera()
        topics = Topics(cfg.prefix, cfg.device_id or first.id, cfg.discovery_prefix)
        self.bridge = MqttBridge(
            cfg,
            topics,
            first.name,
            # its own connection: it is written from MQTT's threads while the capture loop
            # writes events on the main one
            Outbox(open_database(paths.database), cfg.outbox_max_events),
            clock,
            self._queue_command,
            cameras=[(view.camera.id, view.camera.name) for view in config.views()],
        )
        self._last_state: dict[str, Any] | None = None
        self._next_state = 0.0
        self._next_health = 0.0
        # per camera: (monotonic, frames published) at the last health message
        self._health_marks: dict[str, tuple[float, int]] = {}
        self._update: dict[str, Any] | None = None
        self._next_update_check = 0.0
        for camera_id, camera in self._cameras.items():
            topic = topics.camera_motion(camera_id) if len(self._cameras) > 1 else topics.motion
            camera.pipeline.listeners.append(partial(self._publish_event, topic=topic))

    def _publish_event(self, notice: dict[str, Any], *, topic: str) -> None:
        self.bridge.publish_event(notice, topic)

    def start(self) -> None:
        self._publish_state()
        self.bridge.start()

    def stop(self) -> None:
        self.bridge.stop()
        self.bridge.outbox.close()

    def _queue_command(self, command: Command) -> None:
        try:
            self._commands.put_nowait(command)
        except queue.Full:
            self.bridge.reply(
                command.name, command.request_id, ok=False, error="busy", reason="too many queued"
            )

    # --- on the service's watching thread ----------------------------------------------------

    def tick(self) -> None:
        """Run queued commands, then send state (if it changed) and health (when due)."""
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            self._run(command)
        now = self._clock.monotonic()
        if now >= self._next_state:
            self._next_state = now + STATE_CHECK_S
            self._publish_state()
            self._publish_reminders()
        if now >= self._next_health:
            self._next_health = now + self._config.mqtt.health_interval_s
            self.bridge.publish_health(self._health(now))

    def _run(self, command: Command) -> None:
        name, rid = command.name, command.request_id
        if name in ("arm", "disarm"):
            armed = name == "arm"
            self._control.set_armed(armed, actor=ACTOR)  # each capture loop applies it
            self._publish_state()
            self.bridge.reply(name, rid, ok=True, result={"armed": armed})
        elif name == "snapshot":
            self._snapshot(command)
        elif name == "stop_stream":
            self._stop_stream(command)

    def _default_camera(self) -> str:
        return next(iter(self._cameras))

    def _snapshot(self, command: Command) -> None:
        name, rid = command.name, command.request_id
        camera = command.camera or self._default_camera()
        if camera not in self._cameras:
            self.bridge.reply(name, rid, ok=False, error="unknown_camera", reason="no such camera")
            return
        frame = self._cameras[camera].picture.get()
        if frame is None:
            self.bridge.reply(name, rid, ok=False, error="no_frame", reason="no picture yet")
            return
        wall = self._clock.wall()
        stamp = datetime.fromtimestamp(wall, UTC)
        path = (
            self._paths.snapshots
            / camera
            / stamp.strftime("%Y-%m-%d")
            / f"manual-{stamp.strftime('%H%M%S-%f')}.jpg"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            self.bridge.reply(name, rid, ok=False, error="encode_failed", reason="JPEG failed")
            return
        path.write_bytes(data.tobytes())
        # a reference to the picture on the device, never the picture: it may show faces
        self.bridge.reply(name, rid, ok=True, result={"snapshot": self._paths.relative(path)})

    def _stop_stream(self, command: Command) -> None:
        name, rid = command.name, command.request_id
        if self._streams is None:
            self.bridge.reply(name, rid, ok=True, result={"stopped": False})
            return
        camera = command.camera or self._default_camera()
        if camera not in self._streams.states():
            self.bridge.reply(name, rid, ok=False, error="unknown_camera", reason="no such camera")
            return
        stopped = self._streams.stop(camera, ACTOR, "stopped over MQTT")
        self._publish_state()
        self.bridge.reply(name, rid, ok=True, result={"camera": camera, "stopped": stopped})

    # --- state and health -------------------------------------------------------------------

    def _update_state(self) -> dict[str, Any] | None:
        """The running version and an announced behaviour change (with its notice period)."""
        now = self._clock.monotonic()
        if now >= self._next_update_check:
            self._next_update_check = now + UPDATE_CHECK_S
            status = load_update_status(self._paths.root)
            pending = status.pending.to_json() if status.pending else None
            self._update = {"version": status.current_version, "pending": pending}
        return self._update

    def _publish_state(self) -> None:
        streams = self._streams.states() if self._streams is not None else {}
        cameras = {
            camera_id: {**streams.get(camera_id, {}), "motion": camera.pipeline.motion_active}
            for camera_id, camera in self._cameras.items()
        }
        state = {
            "armed": self._control.armed,
            "motion": any(c["motion"] for c in cameras.values()),
            "streaming": any(c.get("state") == "streaming" for c in cameras.values()),
            "cameras": cameras,
            "update": self._update_state(),
        }
        if state != self._last_state:
            self._last_state = state
            self.bridge.publish_state(state)

    def _publish_reminders(self) -> None:
        """Today's re-attestation reminders, each once: into the outbox, then marked sent."""
        if self._streams is None:
            return
        tz = self._config.tzinfo()
        for reminder in self._streams.reminders():
            self.bridge.publish_reminder(reminder_payload(reminder, tz, self._clock.wall()))
            self._streams.reminder_sent(reminder)
            log.info("MQTT: re-attestation reminder for %s queued", reminder.camera_id)

    def _camera_health(self, camera_id: str, now: float) -> dict[str, Any]:
        stats = self._cameras[camera_id].stats()
        fps = None
        if (mark := self._health_marks.get(camera_id)) is not None:
            then, frames = mark
            if now > then:
                fps = round((stats.published - frames) / (now - then), 1)
        self._health_marks[camera_id] = (now, stats.published)
        return {
            "fps": fps,
            "dropped_frames": stats.source_dropped + stats.consumer_dropped,
            "reconnects": stats.reconnects,
        }

    def _health(self, now: float) -> dict[str, Any]:
        """The device's health; one camera's figures at the top level as they always were,
        several cameras' under ``cameras`` (the top level then has the slowest camera's fps
        and the sums)."""
        cameras = {cid: self._camera_health(cid, now) for cid in self._cameras}
        try:
            free_mb = shutil.disk_usage(self._paths.root).free // (1024 * 1024)
        except OSError:
            free_mb = None
        rates = [c["fps"] for c in cameras.values() if c["fps"] is not None]
        health: dict[str, Any] = {
            "fps": min(rates) if rates else None,
            "dropped_frames": sum(c["dropped_frames"] for c in cameras.values()),
            "reconnects": sum(c["reconnects"] for c in cameras.values()),
            "disk_free_mb": free_mb,
            "temperature_c": soc_temperature(),
            "events_waiting": len(self.bridge.outbox),
        }
        if len(cameras) > 1:
            health["cameras"] = cameras
        return health
