"""Pausing a room's viewing: the school stops every parent watching one room at once (a child is
being changed, a first-aid moment, an inspection) and resumes it later.

A paused room is left out of the grants the site sends its devices (``grants.device_grant``), so
each device revokes or narrows the parents' viewers for it and ends their relay tickets, exactly
as when a grant is withdrawn; and the site asks no ticket for it meanwhile. Resuming sends the
grants whole again (a device reinstates the viewers its site withdrew). A pause may be given a
length (15 minutes for a nappy change): it then ends by itself (:meth:`RoomPauses.end_due`, which
the site runs every second), and it no longer counts from its end on even before that. Each pause
and resume is in the site's audit log, in its transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from site_app.accounts import Account

#: The longest pause with an end: a school day. Longer ones last until staff resume them.
MAX_PAUSE_MINUTES = 720
#: Who resumes a pause that ended by itself, in the site's audit log.
TIMER = "site"


@dataclass(frozen=True, slots=True)
class Pause:
    room: str
    paused_at: float
    paused_by: str  # the staff member's username
    ends_at: float | None  # None: until staff resume it

    def to_json(self) -> dict[str, object]:
        return {
            "room": self.room,
            "paused_at": self.paused_at,
            "paused_by": self.paused_by,
            "ends_at": self.ends_at,
        }


class RoomPauses:
    """Paused rooms in the site's database (its one connection, on the site's loop)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def all(self) -> list[Pause]:
        """The pauses in force (one whose end has come counts no more), by room."""
        rows = self._conn.execute(
            "SELECT p.room, p.paused_at, p.paused_by, e.ends_at FROM room_pauses p"
            " LEFT JOIN room_pause_ends e ON e.room = p.room"
            " WHERE e.ends_at IS NULL OR e.ends_at > ? ORDER BY p.room",
            (self._clock.wall(),),
        ).fetchall()
        return [Pause(r[0], float(r[1]), r[2], r[3]) for r in rows]

    def rooms(self) -> frozenset[str]:
        return frozenset(p.room for p in self.all())

    def pause(self, room: str, *, by: Account, minutes: int | None = None) -> bool:
        """Pause ``room``, for ``minutes`` (1..MAX_PAUSE_MINUTES) or until resumed; False when
        it is paused already."""
        if minutes is not None and not 1 <= minutes <= MAX_PAUSE_MINUTES:
            raise ValueError(f"minutes: 1 to {MAX_PAUSE_MINUTES}")
        now = self._clock.wall()
        with self._audit.transaction():
            self._end_due(now)  # a pause whose end has come is replaced, not "paused already"
            made = self._conn.execute(
                "INSERT OR IGNORE INTO room_pauses (room, paused_at, paused_by) VALUES (?, ?, ?)",
                (room, now, by.username),
            ).rowcount
            if made and minutes is not None:
                self._conn.execute(
                    "INSERT INTO room_pause_ends (room, ends_at) VALUES (?, ?)",
                    (room, now + minutes * 60),
                )
            if made:
                details: dict[str, object] = {"room": room}
                if minutes is not None:
                    details["minutes"] = minutes
                self._audit.append(AuditEvent.SITE_ROOM_PAUSED, actor=by.username, details=details)
        return bool(made)

    def end_due(self) -> list[str]:
        """End the pauses whose time is up (audited, resumed by :data:`TIMER`); their rooms."""
        due = self._conn.execute(
            "SELECT 1 FROM room_pause_ends WHERE ends_at <= ? LIMIT 1", (self._clock.wall(),)
        ).fetchone()
        if due is None:  # the usual case, every second: no write transaction
            return []
        with self._audit.transaction():
            return self._end_due(self._clock.wall())

    def _end_due(self, now: float) -> list[str]:
        rows = self._conn.execute(
            "DELETE FROM room_pauses WHERE room IN"
            " (SELECT room FROM room_pause_ends WHERE ends_at <= ?) RETURNING room",
            (now,),
        ).fetchall()
        rooms = sorted(r[0] for r in rows)
        for room in rooms:
            self._audit.append(
                AuditEvent.SITE_ROOM_RESUMED, actor=TIMER, details={"room": room, "timed": True}
            )
        return rooms

    def resume(self, room: str, *, by: Account) -> bool:
        """Resume ``room``; False when it was not paused."""
        with self._audit.transaction():
            gone = self._conn.execute("DELETE FROM room_pauses WHERE room = ?", (room,)).rowcount
            if gone:
                self._audit.append(
                    AuditEvent.SITE_ROOM_RESUMED, actor=by.username, details={"room": room}
                )
        return bool(gone)
