"""How the device is doing, for the owner app: frame rate and losses, disk, temperature, uptime,
and the versions of the app and its face models.

The capture loop feeds :meth:`DeviceHealth.record` with the capture counters (cheap: it keeps
two numbers); the owner API asks :meth:`DeviceHealth.report` from its own thread.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

from camera_app.update.status import load_update_status
from firmware.capture.feed import FeedStats
from firmware.clock import Clock
from firmware.runstatus import app_version

THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
FPS_WINDOW_S = 5.0
MB = 1024 * 1024


def soc_temperature(thermal: Path = THERMAL) -> float | None:
    """The SoC temperature in °C where the kernel exposes it (a Pi does), else None."""
    try:
        return round(int(thermal.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


class DeviceHealth:
    """Thread-safe: written by the capture loop, read by the owner API."""

    def __init__(self, data_dir: Path, quota_mb: float, clock: Clock) -> None:
        self._data_dir = data_dir
        self._quota_mb = quota_mb
        self._clock = clock
        self._started = clock.monotonic()
        self._lock = threading.Lock()
        self._stats: FeedStats | None = None
        self._mark: tuple[float, int] | None = None  # start of the fps window
        self._fps: float | None = None

    def record(self, stats: FeedStats) -> None:
        """On the capture loop, after each frame (or timeout)."""
        now = self._clock.monotonic()
        with self._lock:
            self._stats = stats
            if self._mark is None:
                self._mark = (now, stats.published)
            elif now - self._mark[0] >= FPS_WINDOW_S:
                then, frames = self._mark
                self._fps = round((stats.published - frames) / (now - then), 1)
                self._mark = (now, stats.published)

    def report(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """Everything at once; ``conn`` reads the bytes the recordings take."""
        with self._lock:
            stats, fps = self._stats, self._fps
        used = conn.execute(
            "SELECT COALESCE(SUM(clip_bytes + snapshot_bytes), 0) FROM events"
        ).fetchone()[0]
        try:
            disk = shutil.disk_usage(self._data_dir)
            free_mb: int | None = disk.free // MB
        except OSError:
            free_mb = None
        update = load_update_status(self._data_dir)
        return {
            "fps": fps,
            "frames": stats.published if stats else 0,
            "dropped_frames": stats.source_dropped + stats.consumer_dropped if stats else 0,
            "reconnects": stats.reconnects if stats else 0,
            "recordings_mb": round(used / MB, 1),
            "quota_mb": self._quota_mb,
            "disk_free_mb": free_mb,
            "temperature_c": soc_temperature(),
            "uptime_s": round(self._clock.monotonic() - self._started),
            "app_version": app_version(),
            "release": update.current_version,
            "models": {name: m.to_json() for name, m in update.current_models.items()},
        }
