"""Events waiting for the broker, on disk: nothing produced while the broker is down is lost.

An event is written here first and deleted only when the broker acknowledged it (QoS 1 PUBACK),
so a broker outage, a network cut or a restart of the device delays events but does not lose
them; they go out in the order they were made. A re-sent event carries the same event id, so a
consumer can tell a redelivery from a new event.

The table is bounded (``max_rows``): a device cut off for weeks drops its oldest events (the
clips and the event index on the device are unaffected) and says how many.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    topic: str
    payload: bytes


class Outbox:
    """Thread-safe: events are added by the capture loop and acknowledged on MQTT's thread."""

    def __init__(self, conn: sqlite3.Connection, max_rows: int) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._max_rows = max_rows
        self.dropped = 0

    def add(self, topic: str, payload: bytes, at: float) -> int:
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO mqtt_outbox (topic, payload, created_at) VALUES (?, ?, ?)",
                (topic, payload, at),
            )
            seq = int(cur.lastrowid or 0)
            excess = self._count() - self._max_rows
            if excess > 0:
                self._conn.execute(
                    "DELETE FROM mqtt_outbox WHERE seq IN "
                    "(SELECT seq FROM mqtt_outbox ORDER BY seq LIMIT ?)",
                    (excess,),
                )
                self.dropped += excess
                log.warning(
                    "MQTT outbox full: dropped the %d oldest undelivered event(s) (%d so far)",
                    excess,
                    self.dropped,
                )
            return seq

    def pending(self, after: int = 0, limit: int = 1000) -> list[Pending]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, topic, payload FROM mqtt_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Pending(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def delivered(self, seq: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM mqtt_outbox WHERE seq = ?", (seq,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def _count(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM mqtt_outbox").fetchone()[0])
