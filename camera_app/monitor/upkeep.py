"""Start-up recovery of interrupted events and the retention sweep (the I/O around the choices)."""

from __future__ import annotations

import logging

from camera_app.config.storage import StorageConfig
from camera_app.monitor.clipwriter import probe_clip
from camera_app.monitor.retention import StoredItem, choose_deletions
from camera_app.monitor.store import EventStore
from firmware.paths import StoragePaths

log = logging.getLogger(__name__)

MB = 1024 * 1024


def recover_interrupted(store: EventStore, paths: StoragePaths) -> int:
    """Close events left 'active' by a crash or power cut, keeping whatever the clip holds.

    Fragmented MP4 plays up to its last complete fragment, so the clip is probed for the frames it
    really has; a clip with none is removed. Returns the number of events recovered.
    """
    recovered = 0
    for event in store.active():
        info = probe_clip(paths.absolute(event.clip_path)) if event.clip_path else None
        if info is None and event.clip_path:
            paths.absolute(event.clip_path).unlink(missing_ok=True)
        store.close_event(
            event.id,
            ended_at=event.started_at + (info.duration_s if info else 0.0),
            status="interrupted",
            end_reason="interrupted",
            peak_motion=event.peak_motion,
            clip_path=event.clip_path if info else None,
            clip_frames=info.frames if info else None,
            clip_duration_s=info.duration_s if info else None,
            clip_bytes=info.bytes if info else 0,
            note="the app stopped while recording; clip kept up to its last fragment",
        )
        log.warning(
            "event %s was interrupted; recovered %s",
            event.id,
            f"{info.frames} frames ({info.duration_s:.1f} s)" if info else "no playable clip",
        )
        recovered += 1
    return recovered


class RetentionSweeper:
    """Deletes the oldest events past the age limit or over the quota, never the active one."""

    def __init__(self, store: EventStore, paths: StoragePaths, config: StorageConfig) -> None:
        self._store = store
        self._paths = paths
        self._cfg = config

    @property
    def quota_bytes(self) -> int:
        return int(self._cfg.quota_mb * MB)

    def sweep(self, now: float, active_id: str | None = None, active_bytes: int = 0) -> int:
        """Delete what the rules choose; return the bytes still used (active clip included)."""
        items = [
            StoredItem(
                id=e.id,
                started_at=e.started_at,
                bytes=(active_bytes if e.id == active_id else e.clip_bytes) + e.snapshot_bytes,
                active=e.status == "active",
            )
            for e in self._store.oldest_first()
        ]
        doomed = set(
            choose_deletions(
                items,
                now=now,
                max_age_s=self._cfg.retention_days * 86400,
                quota_bytes=self.quota_bytes,
            )
        )
        for event in self._store.oldest_first():
            if event.id not in doomed:
                continue
            for rel in (event.clip_path, event.snapshot_path):
                if rel:
                    try:
                        self._paths.absolute(rel).unlink(missing_ok=True)
                    except OSError as err:
                        log.error("retention cannot delete %s: %s", rel, err)
            self._store.delete(event.id)
            log.info("retention deleted event %s", event.id)
        return sum(i.bytes for i in items if i.id not in doomed)
