"""How the device is doing, for the owner app: frame rate and losses, disk, temperature, uptime,
and the versions of the app and its face models.

Each camera's capture loop feeds :meth:`DeviceHealth.record` with its capture counters (cheap:
it keeps two numbers per camera); the owner API asks :meth:`DeviceHealth.report` from its own
thread. The report has the device's figures and, under ``cameras``, each camera's.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from dataclasses import dataclass
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


@dataclass(slots=True)
class _CameraHealth:
    stats: FeedStats | None = None
    mark: tuple[float, int] | None = None  # start of the fps window
    fps: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "fps": self.fps,
            "frames": stats.published if stats else 0,
            "dropped_frames": stats.source_dropped + stats.consumer_dropped if stats else 0,
            "reconnects": stats.reconnects if stats else 0,
            "error": self.error,
        }


class DeviceHealth:
    """Thread-safe: written by the capture loops, read by the owner API."""

    def __init__(self, data_dir: Path, quota_mb: float, clock: Clock) -> None:
        self._data_dir = data_dir
        self._quota_mb = quota_mb
        self._clock = clock
        self._started = clock.monotonic()
        self._lock = threading.Lock()
        self._cameras: dict[str, _CameraHealth] = {}

    def record(self, camera_id: str, stats: FeedStats) -> None:
        """On the camera's capture loop, after each frame (or timeout)."""
        now = self._clock.monotonic()
        with self._lock:
            camera = self._cameras.setdefault(camera_id, _CameraHealth())
            camera.stats = stats
            if camera.mark is None:
                camera.mark = (now, stats.published)
            elif now - camera.mark[0] >= FPS_WINDOW_S:
                then, frames = camera.mark
                camera.fps = round((stats.published - frames) / (now - then), 1)
                camera.mark = (now, stats.published)

    def failed(self, camera_id: str, reason: str) -> None:
        """The camera's capture ended for good (its loop stopped; the others go on)."""
        with self._lock:
            camera = self._cameras.setdefault(camera_id, _CameraHealth())
            camera.error = reason
            camera.fps = 0.0

    def report(self, conn: sqlite3.Connection) -> dict[str, Any]:
        """Everything at once; ``conn`` reads the bytes the recordings take. The top-level
        ``fps`` is the slowest camera's (what the owner should see first), the frame and loss
        counters the sums over the cameras; ``cameras`` has each camera's."""
        with self._lock:
            cameras = {cid: camera.to_json() for cid, camera in self._cameras.items()}
        rates = [c["fps"] for c in cameras.values() if c["fps"] is not None]
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
            "fps": min(rates) if rates else None,
            "frames": sum(c["frames"] for c in cameras.values()),
            "dropped_frames": sum(c["dropped_frames"] for c in cameras.values()),
            "reconnects": sum(c["reconnects"] for c in cameras.values()),
            "cameras": cameras,
            "recordings_mb": round(used / MB, 1),
            "quota_mb": self._quota_mb,
            "disk_free_mb": free_mb,
            "temperature_c": soc_temperature(),
            "uptime_s": round(self._clock.monotonic() - self._started),
            "app_version": app_version(),
            "release": update.current_version,
            "models": {name: m.to_json() for name, m in update.current_models.items()},
        }
