"""Recordings put where the recorder would put them (a real MP4 and a real JPEG under the data
directory, the rows written through the real ``EventStore``), and the audit records about them,
for the API tests of the owner's recordings."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from camera_app.monitor.store import EventStore
from testkit.api import RunningApi

CAMERA = "cam1"


def add_event(
    api: RunningApi,
    event_id: str,
    started_at: float,
    *,
    clip: Path | None = None,
    snapshot: bool = True,
    active: bool = False,
    camera: str = CAMERA,
) -> None:
    """An event as the recorder leaves it: files under the data directory, the row indexed."""
    paths = api.paths
    clip_rel: str | None = None
    if clip is not None:
        target = paths.clips / camera / f"{event_id}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(clip.read_bytes())
        clip_rel = paths.relative(target)
    conn = api.db()
    try:
        store = EventStore(conn)
        store.open_event(event_id, camera, started_at, clip_rel)
        if snapshot:
            image = np.full((48, 64, 3), (40, 160, 90), np.uint8)
            ok, jpeg = cv2.imencode(".jpg", image)
            assert ok
            target = paths.snapshots / camera / f"{event_id}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(jpeg.tobytes())
            store.set_snapshot(event_id, paths.relative(target), len(jpeg))
        if not active:
            store.close_event(
                event_id,
                ended_at=started_at + 5,
                status="complete",
                end_reason="quiet",
                peak_motion=0.1,
                clip_path=clip_rel,
                clip_frames=30 if clip_rel else None,
                clip_duration_s=2.0 if clip_rel else None,
                clip_bytes=clip.stat().st_size if clip else 0,
            )
    finally:
        conn.close()


def audited(api: RunningApi, event: str) -> list[tuple[str, str | None, dict]]:
    """(actor, camera, details) of every audit record of ``event``, oldest first."""
    conn = api.db()
    try:
        rows = conn.execute(
            "SELECT actor, camera_id, details FROM audit WHERE event = ? ORDER BY seq", (event,)
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], json.loads(r[2])) for r in rows]
