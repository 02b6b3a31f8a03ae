"""Arming and disarming monitoring, from the owner app or MQTT, kept across a restart.

The wish is recorded at once by whoever asks (any thread: the owner API, MQTT), in the database
and the audit log; the capture loop applies it to the pipeline at its next frame
(:meth:`MonitoringControl.apply`), so the pipeline is only ever touched from its own thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from camera_app.monitor.pipeline import MonitoringPipeline
from firmware.clock import Clock
from firmware.db import get_setting, open_database, set_setting
from privacy.audit import AuditEvent, AuditLog

log = logging.getLogger(__name__)

ARMED_KEY = "monitoring.armed"


class MonitoringControl:
    """Whether monitoring is armed. Thread-safe; owns its database connection."""

    def __init__(self, database: Path, clock: Clock) -> None:
        self._conn = open_database(database)
        self._audit = AuditLog(self._conn, clock)
        self._lock = threading.Lock()
        self._armed = get_setting(self._conn, ARMED_KEY) != "false"
        self._listeners: list[Callable[[bool], None]] = []

    @property
    def armed(self) -> bool:
        """What the owner last asked for (the pipeline follows within a frame)."""
        with self._lock:
            return self._armed

    def add_listener(self, listener: Callable[[bool], None]) -> None:
        """Call ``listener(armed)`` after every change (e.g. MQTT publishes its state)."""
        self._listeners.append(listener)

    def set_armed(self, armed: bool, *, actor: str) -> bool:
        """Arm or disarm (audited, kept across a restart); False when it already was so."""
        with self._lock:
            if armed == self._armed:
                return False
            self._armed = armed
            set_setting(self._conn, ARMED_KEY, "true" if armed else "false")
            self._audit.append(AuditEvent.ARMED if armed else AuditEvent.DISARMED, actor=actor)
        log.info("monitoring %s by %s", "armed" if armed else "disarmed", actor)
        for listener in list(self._listeners):
            try:
                listener(armed)
            except Exception:  # a listener must never undo or block the change
                log.exception("arm listener failed")
        return True

    def apply(self, pipeline: MonitoringPipeline) -> None:
        """On the capture loop: make the pipeline follow the owner's wish."""
        armed = self.armed
        if pipeline.armed != armed:
            pipeline.set_armed(armed)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
