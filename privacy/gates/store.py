"""What the streaming gates remember: opt-ins, posted notices and guardian consent records.

Persistence only; what these records mean for streaming is decided in ``privacy.gates.policy``
and acted on by the stream controller. Every change is written to the audit log by the
method that makes it, so no caller can forget it. Records are never
deleted: an opt-out, a withdrawn notice or a revoked consent is a timestamp, so the history the
audit log refers to stays readable.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import Profile
from privacy.gates.schedule import Schedule


@dataclass(frozen=True, slots=True)
class OptIn:
    """The owner's current explicit opt-in for one camera, made for one profile."""

    id: str
    camera_id: str
    profile: Profile
    opted_in_at: float
    opted_in_by: str


@dataclass(frozen=True, slots=True)
class PostedNotice:
    """A generated posted-notice sign and its attestation state."""

    id: str
    camera_id: str
    operator: str
    purpose: str
    contact: str
    hours: Schedule
    url: str
    pdf_path: str
    created_at: float
    created_by: str
    attested_at: float | None
    attested_by: str | None
    expired_at: float | None
    withdrawn_at: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "operator": self.operator,
            "purpose": self.purpose,
            "contact": self.contact,
            "hours": self.hours.model_dump(),
            "url": self.url,
            "created_at": self.created_at,
            "attested_at": self.attested_at,
            "expired_at": self.expired_at,
            "withdrawn_at": self.withdrawn_at,
        }


@dataclass(frozen=True, slots=True)
class GuardianConsent:
    """An institution's record that guardians consented to live viewing on one camera."""

    id: str
    camera_id: str
    reference: str
    guardians: int
    recorded_at: float
    recorded_by: str
    valid_until: float
    revoked_at: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "reference": self.reference,
            "guardians": self.guardians,
            "recorded_at": self.recorded_at,
            "valid_until": self.valid_until,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class NoticeReminder:
    """One day's reminder to re-attest a posted notice before its attestation lapses."""

    notice_id: str
    attested_at: float  # the attestation that is about to lapse
    day: str  # the local date of the reminder, YYYY-MM-DD
    camera_id: str
    lapses_at: float
    created_at: float


def _notice(row: sqlite3.Row) -> PostedNotice:
    return PostedNotice(
        id=row["id"],
        camera_id=row["camera_id"],
        operator=row["operator"],
        purpose=row["purpose"],
        contact=row["contact"],
        hours=Schedule.model_validate_json(row["hours"]),
        url=row["url"],
        pdf_path=row["pdf_path"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        attested_at=row["attested_at"],
        attested_by=row["attested_by"],
        expired_at=row["expired_at"],
        withdrawn_at=row["withdrawn_at"],
    )


def _consent(row: sqlite3.Row) -> GuardianConsent:
    return GuardianConsent(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - sqlite3.Row


class GateStore:
    """Reads and writes gate records in the device database (autocommit connection)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    # --- opt-in -------------------------------------------------------------------------------

    def opt_in(self, camera_id: str, profile: Profile, actor: str) -> OptIn:
        """Record a new opt-in, replacing any current one."""
        now = self._clock.wall()
        record = OptIn(uuid.uuid4().hex, camera_id, profile, now, actor)
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "UPDATE streaming_optins SET opted_out_at = ?, opted_out_by = ?"
                " WHERE camera_id = ? AND opted_out_at IS NULL",
                (now, actor, camera_id),
            )
            self._conn.execute(
                "INSERT INTO streaming_optins (id, camera_id, profile, opted_in_at, opted_in_by)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.id, camera_id, profile, now, actor),
            )
        self._audit.append(
            AuditEvent.OPT_IN, actor=actor, camera_id=camera_id, details={"profile": profile}
        )
        return record

    def opt_out(self, camera_id: str, actor: str) -> bool:
        """End the current opt-in (audited); False when there was none."""
        cur = self._conn.execute(
            "UPDATE streaming_optins SET opted_out_at = ?, opted_out_by = ?"
            " WHERE camera_id = ? AND opted_out_at IS NULL",
            (self._clock.wall(), actor, camera_id),
        )
        if cur.rowcount == 0:
            return False
        self._audit.append(AuditEvent.OPT_OUT, actor=actor, camera_id=camera_id)
        return True

    def current_opt_in(self, camera_id: str) -> OptIn | None:
        row = self._conn.execute(
            "SELECT id, camera_id, profile, opted_in_at, opted_in_by FROM streaming_optins"
            " WHERE camera_id = ? AND opted_out_at IS NULL",
            (camera_id,),
        ).fetchone()
        if row is None:
            return None
        record_id, camera, profile, opted_in_at, opted_in_by = tuple(row)
        return OptIn(record_id, camera, Profile(profile), opted_in_at, opted_in_by)

    # --- posted notices -----------------------------------------------------------------------

    def add_notice(
        self,
        notice_id: str,
        camera_id: str,
        *,
        operator: str,
        purpose: str,
        contact: str,
        hours: Schedule,
        url: str,
        pdf_path: str,
        actor: str,
    ) -> PostedNotice:
        """Store a newly generated sign (audited); earlier signs of the camera are withdrawn."""
        now = self._clock.wall()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "UPDATE notices SET withdrawn_at = ? WHERE camera_id = ? AND withdrawn_at IS NULL",
                (now, camera_id),
            )
            self._conn.execute(
                "INSERT INTO notices (id, camera_id, operator, purpose, contact, hours, url,"
                " pdf_path, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    notice_id,
                    camera_id,
                    operator,
                    purpose,
                    contact,
                    hours.model_dump_json(),
                    url,
                    pdf_path,
                    now,
                    actor,
                ),
            )
        notice = self.notice(notice_id)
        assert notice is not None
        self._audit.append(
            AuditEvent.NOTICE_GENERATED,
            actor=actor,
            camera_id=camera_id,
            details={"notice_id": notice_id, "url": url},
        )
        return notice

    def notice(self, notice_id: str) -> PostedNotice | None:
        row = self._conn.execute("SELECT * FROM notices WHERE id = ?", (notice_id,)).fetchone()
        return _notice(row) if row else None

    def current_notice(self, camera_id: str) -> PostedNotice | None:
        """The camera's sign in force (not withdrawn), if any."""
        row = self._conn.execute(
            "SELECT * FROM notices WHERE camera_id = ? AND withdrawn_at IS NULL"
            " ORDER BY created_at DESC LIMIT 1",
            (camera_id,),
        ).fetchone()
        return _notice(row) if row else None

    def attest_notice(self, notice_id: str, actor: str) -> PostedNotice:
        """Record that the sign is posted (again), audited; clears a lapsed attestation."""
        cur = self._conn.execute(
            "UPDATE notices SET attested_at = ?, attested_by = ?, expired_at = NULL"
            " WHERE id = ? AND withdrawn_at IS NULL",
            (self._clock.wall(), actor, notice_id),
        )
        if cur.rowcount == 0:
            raise LookupError(f"no notice {notice_id} in force")
        notice = self.notice(notice_id)
        assert notice is not None
        self._audit.append(
            AuditEvent.NOTICE_ATTESTED,
            actor=actor,
            camera_id=notice.camera_id,
            details={"notice_id": notice.id},
        )
        return notice

    def mark_notice_expired(self, notice: PostedNotice, *, actor: str, reconfirm_days: int) -> bool:
        """Mark a lapsed attestation once, audited; True the first time (so it is logged once)."""
        cur = self._conn.execute(
            "UPDATE notices SET expired_at = ? WHERE id = ? AND expired_at IS NULL",
            (self._clock.wall(), notice.id),
        )
        if cur.rowcount == 0:
            return False
        self._audit.append(
            AuditEvent.NOTICE_EXPIRED,
            actor=actor,
            camera_id=notice.camera_id,
            details={"notice_id": notice.id, "reconfirm_days": reconfirm_days},
        )
        return True

    # --- re-attestation reminders ---------------------------------------------------------------

    def record_reminder(
        self, notice: PostedNotice, *, day: str, lapses_at: float, actor: str
    ) -> NoticeReminder | None:
        """Record the reminder of local ``day`` for the notice's current attestation; returns it
        the first time (None when that day's reminder exists). The first reminder of an
        attestation is audited; the daily repeats are not."""
        if notice.attested_at is None:
            raise ValueError(f"notice {notice.id} was never attested")
        reminder = NoticeReminder(
            notice.id, notice.attested_at, day, notice.camera_id, lapses_at, self._clock.wall()
        )
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO notice_reminders (notice_id, attested_at, day, camera_id,"
            " lapses_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                reminder.notice_id,
                reminder.attested_at,
                day,
                reminder.camera_id,
                lapses_at,
                reminder.created_at,
            ),
        )
        if cur.rowcount == 0:
            return None
        (count,) = self._conn.execute(
            "SELECT COUNT(*) FROM notice_reminders WHERE notice_id = ? AND attested_at = ?",
            (notice.id, notice.attested_at),
        ).fetchone()
        if count == 1:
            self._audit.append(
                AuditEvent.REATTEST_REMINDER,
                actor=actor,
                camera_id=notice.camera_id,
                details={"notice_id": notice.id, "lapses_at": lapses_at},
            )
        return reminder

    def reminders_to_send(self, day: str) -> list[NoticeReminder]:
        """The reminders of local ``day`` that MQTT has not taken yet (older days' are stale)."""
        rows = self._conn.execute(
            "SELECT notice_id, attested_at, day, camera_id, lapses_at, created_at"
            " FROM notice_reminders WHERE day = ? AND mqtt_sent_at IS NULL ORDER BY created_at",
            (day,),
        ).fetchall()
        return [NoticeReminder(*tuple(r)) for r in rows]

    def reminder_sent(self, reminder: NoticeReminder) -> None:
        """MQTT has the reminder (in its outbox, which delivers it)."""
        self._conn.execute(
            "UPDATE notice_reminders SET mqtt_sent_at = ?"
            " WHERE notice_id = ? AND attested_at = ? AND day = ?",
            (self._clock.wall(), reminder.notice_id, reminder.attested_at, reminder.day),
        )

    # --- guardian consent ---------------------------------------------------------------------

    def add_consent(
        self, camera_id: str, reference: str, guardians: int, valid_until: float, actor: str
    ) -> GuardianConsent:
        consent = GuardianConsent(
            uuid.uuid4().hex,
            camera_id,
            reference,
            guardians,
            self._clock.wall(),
            actor,
            valid_until,
            None,
        )
        self._conn.execute(
            "INSERT INTO guardian_consents (id, camera_id, reference, guardians, recorded_at,"
            " recorded_by, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                consent.id,
                camera_id,
                reference,
                guardians,
                consent.recorded_at,
                actor,
                valid_until,
            ),
        )
        self._audit.append(
            AuditEvent.CONSENT_RECORDED,
            actor=actor,
            camera_id=camera_id,
            details={"consent": consent.id, "guardians": guardians, "valid_until": valid_until},
        )
        return consent

    def revoke_consent(self, consent_id: str, *, actor: str) -> GuardianConsent:
        """Revoke a consent record in force (audited); LookupError when there is none."""
        cur = self._conn.execute(
            "UPDATE guardian_consents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self._clock.wall(), consent_id),
        )
        if cur.rowcount == 0:
            raise LookupError(f"no consent record {consent_id} in force")
        row = self._conn.execute(
            "SELECT * FROM guardian_consents WHERE id = ?", (consent_id,)
        ).fetchone()
        consent = _consent(row)
        self._audit.append(
            AuditEvent.CONSENT_REVOKED,
            actor=actor,
            camera_id=consent.camera_id,
            details={"consent": consent.id},
        )
        return consent

    def consents(self, camera_id: str) -> list[GuardianConsent]:
        rows = self._conn.execute(
            "SELECT * FROM guardian_consents WHERE camera_id = ? ORDER BY recorded_at",
            (camera_id,),
        ).fetchall()
        return [_consent(r) for r in rows]

    def valid_consent(self, camera_id: str) -> GuardianConsent | None:
        """The most recent consent record that is neither revoked nor past its end date."""
        row = self._conn.execute(
            "SELECT * FROM guardian_consents WHERE camera_id = ? AND revoked_at IS NULL"
            " AND valid_until > ? ORDER BY recorded_at DESC LIMIT 1",
            (camera_id, self._clock.wall()),
        ).fetchone()
        return _consent(row) if row else None
