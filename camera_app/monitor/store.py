"""The SQLite index of motion events."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    camera_id: str
    started_at: float
    ended_at: float | None
    status: str
    end_reason: str | None
    peak_motion: float
    clip_path: str | None
    clip_frames: int | None
    clip_duration_s: float | None
    clip_bytes: int
    snapshot_path: str | None
    snapshot_bytes: int
    note: str | None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class EventStore:
    """Reads and writes event rows. Safe to share between the pipeline and the recorder thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn  # shared by threads: it takes them one at a time (firmware.shared_conn)

    def open_event(
        self,
        event_id: str,
        camera_id: str,
        started_at: float,
        clip_path: str | None,
        note: str | None = None,
    ) -> None:
        self._conn.execute(
            "INSERT INTO events (id, camera_id, started_at, status, clip_path, note)"
            " VALUES (?, ?, ?, 'active', ?, ?)",
            (event_id, camera_id, started_at, clip_path, note),
        )

    def set_snapshot(self, event_id: str, path: str, size: int) -> None:
        self._conn.execute(
            "UPDATE events SET snapshot_path = ?, snapshot_bytes = ? WHERE id = ?",
            (path, size, event_id),
        )

    def update_clip_bytes(self, event_id: str, size: int) -> None:
        self._conn.execute("UPDATE events SET clip_bytes = ? WHERE id = ?", (size, event_id))

    def close_event(
        self,
        event_id: str,
        *,
        ended_at: float,
        status: str,
        end_reason: str,
        peak_motion: float,
        clip_path: str | None,
        clip_frames: int | None,
        clip_duration_s: float | None,
        clip_bytes: int,
        note: str | None = None,
    ) -> None:
        """Finish an event; ``clip_path`` None means no playable clip exists."""
        self._conn.execute(
            "UPDATE events SET ended_at = ?, status = ?, end_reason = ?, peak_motion = ?,"
            " clip_path = ?, clip_frames = ?, clip_duration_s = ?, clip_bytes = ?,"
            " note = COALESCE(?, note) WHERE id = ?",
            (
                ended_at,
                status,
                end_reason,
                peak_motion,
                clip_path,
                clip_frames,
                clip_duration_s,
                clip_bytes,
                note,
                event_id,
            ),
        )

    def get(self, event_id: str) -> EventRecord | None:
        row = self._conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
        return EventRecord(**dict(row)) if row else None

    def recent(self, limit: int = 100, camera_id: str | None = None) -> list[EventRecord]:
        """Most recent first."""
        if camera_id is None:
            rows = self._conn.execute(
                "SELECT * FROM events ORDER BY started_at DESC LIMIT ?", (limit,)
            ).fetchall()
        else:
            rows = self._conn.execute(
                "SELECT * FROM events WHERE camera_id = ? ORDER BY started_at DESC LIMIT ?",
                (camera_id, limit),
            ).fetchall()
        return [EventRecord(**dict(r)) for r in rows]

    def page(
        self,
        camera_id: str,
        *,
        limit: int,
        since: float | None = None,
        until: float | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[EventRecord]:
        """Events of ``camera_id``, newest first: started in ``[since, until)`` and, for the next
        page, strictly older than ``before`` (``(started_at, id)`` of the last event seen)."""
        sql, params = page_query(camera_id, limit=limit, since=since, until=until, before=before)
        return [EventRecord(**dict(r)) for r in self._conn.execute(sql, params).fetchall()]

    def active(self) -> list[EventRecord]:
        rows = self._conn.execute("SELECT * FROM events WHERE status = 'active'").fetchall()
        return [EventRecord(**dict(r)) for r in rows]

    def oldest_first(self) -> list[EventRecord]:
        rows = self._conn.execute("SELECT * FROM events ORDER BY started_at ASC").fetchall()
        return [EventRecord(**dict(r)) for r in rows]

    def delete(self, event_id: str) -> None:
        self._conn.execute("DELETE FROM events WHERE id = ?", (event_id,))


def page_query(
    camera_id: str,
    *,
    limit: int,
    since: float | None = None,
    until: float | None = None,
    before: tuple[float, str] | None = None,
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters of :meth:`EventStore.page`, so that its query plan can be
    checked: the index on ``(camera_id, started_at, id)`` answers it without a sort."""
    sql = "SELECT * FROM events WHERE camera_id = ?"
    params: list[Any] = [camera_id]
    if since is not None:
        sql += " AND started_at >= ?"
        params.append(since)
    if until is not None:
        sql += " AND started_at < ?"
        params.append(until)
    if before is not None:
        # a row value, not "a < x OR (a = x AND b < y)": SQLite seeks the index to it, where
        # the OR made it read the camera's events from the newest down to the cursor
        sql += " AND (started_at, id) < (?, ?)"
        params += [before[0], before[1]]
    sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
    params.append(limit)
    return sql, tuple(params)
