"""Pausing a room's viewing: the school stops every parent watching one room at once (a child is
being changed, a first-aid moment, an inspection) and resumes it later.

A paused room is left out of the grants the site sends its devices (``grants.device_grant``), so
each device revokes or narrows the parents' viewers for it and ends their relay tickets, exactly
as when a grant is withdrawn; and the site asks no ticket for it meanwhile. Resuming sends the
grants whole again (a device reinstates the viewers its site withdrew). Each pause and resume is
in the site's audit log, in its transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from site_app.accounts import Account


@dataclass(frozen=True, slots=True)
class Pause:
    room: str
    paused_at: float
    paused_by: str  # the staff member's username

    def to_json(self) -> dict[str, object]:
        return {"room": self.room, "paused_at": self.paused_at, "paused_by": self.paused_by}


class RoomPauses:
    """Paused rooms in the site's database (its one connection, on the site's loop)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def all(self) -> list[Pause]:
        rows = self._conn.execute(
            "SELECT room, paused_at, paused_by FROM room_pauses ORDER BY room"
        ).fetchall()
        return [Pause(r[0], float(r[1]), r[2]) for r in rows]

    def rooms(self) -> frozenset[str]:
        return frozenset(p.room for p in self.all())

    def pause(self, room: str, *, by: Account) -> bool:
        """Pause ``room``; False when it is paused already."""
        with self._audit.transaction():
            made = self._conn.execute(
                "INSERT OR IGNORE INTO room_pauses (room, paused_at, paused_by) VALUES (?, ?, ?)",
                (room, self._clock.wall(), by.username),
            ).rowcount
            if made:
                self._audit.append(
                    AuditEvent.SITE_ROOM_PAUSED, actor=by.username, details={"room": room}
                )
        return bool(made)

    def resume(self, room: str, *, by: Account) -> bool:
        """Resume ``room``; False when it was not paused."""
        with self._audit.transaction():
            gone = self._conn.execute("DELETE FROM room_pauses WHERE room = ?", (room,)).rowcount
            if gone:
                self._audit.append(
                    AuditEvent.SITE_ROOM_RESUMED, actor=by.username, details={"room": room}
                )
        return bool(gone)
