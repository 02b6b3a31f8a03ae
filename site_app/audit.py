"""The audit trail across devices: the site follows each device's hash-chained audit log and
keeps what continues the chain.

A device publishes its log's head (retained, ``up/audit/head``); when it is ahead of what the
site holds, the site asks for the records after its last one (``down/audit``, at most 200 at a
time) until it has caught up. Each record is kept only if its ``seq`` follows, its
``prev_hash`` is the hash the site holds last, and its own hash recomputes
(``privacy.audit.record_hash``, the device's own function). Otherwise the device is marked
**broken** with the reason (a record edited or removed on the device, a log cut back and
written again: a head that names another hash than the site holds at its seq) and followed no
further: staff see it, and
what was kept before stays as evidence.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass

from camera_app.sitelink.protocol import AuditHead, AuditRecordMessage
from firmware.clock import Clock
from privacy.audit import GENESIS_HASH, record_hash

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrailState:
    device: str
    seq: int  # the last record kept
    hash: str  # its hash (GENESIS_HASH before the first)
    broken: str | None

    def to_json(self) -> dict[str, object]:
        return {"device": self.device, "seq": self.seq, "broken": self.broken}


class DeviceAuditTrails:
    """The devices' trails in the site's database."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def state(self, device: str) -> TrailState:
        last = self._conn.execute(
            "SELECT seq, hash FROM device_audit WHERE device = ? ORDER BY seq DESC LIMIT 1",
            (device,),
        ).fetchone()
        broken = self._conn.execute(
            "SELECT broken FROM device_audit_state WHERE device = ?", (device,)
        ).fetchone()
        seq, digest = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
        return TrailState(device, seq, digest, broken[0] if broken else None)

    def wants_after(self, device: str, head: AuditHead) -> int | None:
        """The seq to ask records after, when ``head`` is ahead of the trail; None otherwise
        (caught up, or broken: a head naming another hash than the record the site kept at its
        seq breaks it).

        A head behind the trail that names the kept record's hash is not a break: MQTT hands on
        a retained head again on a new subscription, so a head can arrive after the records it
        preceded. A log cut back on the device shows at its next record, whose head names a
        hash the site's record at that seq does not have."""
        state = self.state(device)
        if state.broken is not None:
            return None
        if head.seq > state.seq:
            return state.seq
        kept = self._conn.execute(
            "SELECT hash FROM device_audit WHERE device = ? AND seq = ?", (device, head.seq)
        ).fetchone()
        if (kept[0] if kept else GENESIS_HASH) != head.hash:
            self._break(device, f"the device's head at seq {head.seq} names another hash")
        return None

    def take(self, device: str, records: tuple[AuditRecordMessage, ...]) -> int:
        """Keep the records that continue the chain, in order; the first one that does not
        breaks the trail. Returns how many were kept."""
        state = self.state(device)
        if state.broken is not None:
            return 0
        seq, digest = state.seq, state.hash
        kept = 0
        with self._conn:
            for record in records:
                problem = _problem(record, seq, digest)
                if problem is not None:
                    self._break(device, problem)
                    break
                self._conn.execute(
                    "INSERT INTO device_audit (device, seq, at, actor, event, camera_id, details,"
                    " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        device,
                        record.seq,
                        record.at,
                        record.actor,
                        record.event,
                        record.camera_id,
                        json.dumps(record.details, ensure_ascii=False),
                        record.prev_hash,
                        record.hash,
                    ),
                )
                seq, digest = record.seq, record.hash
                kept += 1
        return kept

    def records(
        self, device: str, limit: int = 100, *, event: str | None = None, viewer: str | None = None
    ) -> list[dict[str, object]]:
        """The device's kept records, newest first; only ``event``'s and those about ``viewer``
        (the device's name of a site account, ``site:<id>``) when given."""
        rows = self._conn.execute(
            "SELECT seq, at, actor, event, camera_id, details, hash FROM device_audit"
            " WHERE device = :device AND (:event IS NULL OR event = :event)"
            " AND (:viewer IS NULL OR json_extract(details, '$.viewer') = :viewer)"
            " ORDER BY seq DESC LIMIT :limit",
            {"device": device, "event": event, "viewer": viewer, "limit": max(1, min(limit, 500))},
        ).fetchall()
        return [
            {
                "seq": r[0],
                "at": r[1],
                "actor": r[2],
                "event": r[3],
                "camera_id": r[4],
                "details": json.loads(r[5]),
                "hash": r[6],
            }
            for r in rows
        ]

    def events(self) -> list[str]:
        """The events the kept trails hold (to filter by)."""
        rows = self._conn.execute("SELECT DISTINCT event FROM device_audit ORDER BY event")
        return [r[0] for r in rows.fetchall()]

    def devices(self) -> list[str]:
        """Every device the site holds a trail (or a broken one) of."""
        rows = self._conn.execute(
            "SELECT device FROM device_audit UNION SELECT device FROM device_audit_state"
            " ORDER BY device"
        ).fetchall()
        return [r[0] for r in rows]

    def merged(
        self, limit: int = 100, *, event: str | None = None, viewer: str | None = None
    ) -> list[dict[str, object]]:
        """The kept records of every device, newest first (by their time; by device and seq
        where two are at the same time), each naming its device; filtered as :meth:`records`."""
        rows = self._conn.execute(
            "SELECT device, seq, at, actor, event, camera_id, details, hash FROM device_audit"
            " WHERE (:event IS NULL OR event = :event)"
            " AND (:viewer IS NULL OR json_extract(details, '$.viewer') = :viewer)"
            " ORDER BY at DESC, device, seq DESC LIMIT :limit",
            {"event": event, "viewer": viewer, "limit": max(1, min(limit, 500))},
        ).fetchall()
        return [
            {
                "device": r[0],
                "seq": r[1],
                "at": r[2],
                "actor": r[3],
                "event": r[4],
                "camera_id": r[5],
                "details": json.loads(r[6]),
                "hash": r[7],
            }
            for r in rows
        ]

    def _break(self, device: str, reason: str) -> None:
        log.warning("audit trail of %s broken: %s", device, reason)
        self._conn.execute(
            "INSERT INTO device_audit_state (device, broken, broken_at) VALUES (?, ?, ?)"
            " ON CONFLICT (device) DO UPDATE SET broken = excluded.broken,"
            " broken_at = excluded.broken_at",
            (device, reason, self._clock.wall()),
        )


def _problem(record: AuditRecordMessage, seq: int, digest: str) -> str | None:
    """Why ``record`` does not continue a chain ending at (``seq``, ``digest``), if it does not."""
    if record.seq != seq + 1:
        return f"record {record.seq} follows {seq}: records are missing"
    if record.prev_hash != digest:
        return f"record {record.seq} does not chain to record {seq}"
    recomputed = record_hash(
        record.seq,
        record.at,
        record.actor,
        record.event,
        record.camera_id,
        record.details if isinstance(record.details, dict) else {},
        record.prev_hash,
    )
    if isinstance(record.details, str) or recomputed != record.hash:
        return f"record {record.seq} does not match its hash (edited)"
    return None
