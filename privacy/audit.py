"""The tamper-evident audit log: who did what to the camera, and when.

Records live in the device database in an append-only ``audit`` table. SQLite triggers refuse
UPDATE and DELETE, but anyone holding the file can drop triggers, so the triggers only stop
mistakes. What makes tampering *evident* is the hash chain: every record stores the SHA-256 of its
own canonical JSON, which includes the previous record's hash. Editing a record breaks its hash;
deleting or reordering records breaks the chain of ``prev_hash`` values (and ``seq`` numbers).

A chain alone cannot show that records were cut off the *end*: the shortened chain is still valid.
So the last ``seq`` and hash are also kept in a one-row ``audit_head`` table, updated in the same
transaction as each append, and ``verify`` checks that the log ends where the head says. Someone
who rewrites the whole chain *and* the head cannot be caught from the file alone; for that the
owner keeps an export (or the head's hash) off the device.

Appends are serialised (a process-wide lock plus ``BEGIN IMMEDIATE``, which takes SQLite's write
lock before the head is read) so concurrent writers, in threads or in other processes, cannot
fork the chain.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from firmware.clock import Clock

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64

# The append-only triggers (made by firmware/migrations/0002_store_tables.sql); verify() reports
# a missing one.
_TRIGGERS = (
    "audit_no_update",
    "audit_no_delete",
    "audit_head_no_delete",
    "audit_head_forward_only",
)

# The audit log is kept for years, exported to the owner and possibly shown to inspectors, and it
# can never be edited: a password, token or identity number that got in could never be removed
# again (DESIGN: ID numbers are stored only encrypted and never appear in logs). So keys that look
# like secrets are refused outright instead of being masked, and the caller has to leave them out.
_SECRET_KEY = re.compile(r"passw(or)?d|passphrase|secret|token|id_?number|resident_?id")

# sqlite3.Connection cannot be weak-referenced, so one lock for the process; appends are rare.
_APPEND_LOCK = threading.Lock()


class AuditEvent(StrEnum):
    """What happened. Every record names one of these."""

    SETUP = "setup"
    LOGIN_OK = "login_ok"
    LOGIN_FAILED = "login_failed"
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    REGISTRATION_ADDED = "registration_added"
    REGISTRATION_REVOKED = "registration_revoked"
    NOTICE_GENERATED = "notice_generated"
    NOTICE_ATTESTED = "notice_attested"
    NOTICE_EXPIRED = "notice_expired"
    VIEWER_INVITED = "viewer_invited"
    VIEWER_ACCEPTED = "viewer_accepted"
    VIEWER_REVOKED = "viewer_revoked"
    VIEWER_REINSTATED = "viewer_reinstated"  # a viewer its site had withdrawn, granted again
    PUBLIC_LINK_CREATED = "public_link_created"
    PUBLIC_LINK_REVOKED = "public_link_revoked"
    CONSENT_RECORDED = "consent_recorded"
    CONSENT_REVOKED = "consent_revoked"
    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    AUTOSTART_ENABLED = "autostart_enabled"
    AUTOSTART_DISABLED = "autostart_disabled"
    AUTOSTART_PAUSED = "autostart_paused"
    REATTEST_REMINDER = "reattest_reminder"
    STREAM_STARTED = "stream_started"
    STREAM_STOPPED = "stream_stopped"
    RELAY_STARTED = "relay_started"
    RELAY_STOPPED = "relay_stopped"
    RELAY_TICKET_ISSUED = "relay_ticket_issued"
    RELAY_TICKET_REVOKED = "relay_ticket_revoked"
    CONFIG_CHANGED = "config_changed"
    UPDATE_ANNOUNCED = "update_announced"
    UPDATE_INSTALLED = "update_installed"
    UPDATE_ROLLED_BACK = "update_rolled_back"
    UPDATE_REFUSED = "update_refused"
    RECORDING_VIEWED = "recording_viewed"
    RECORDINGS_GRANTED = "recordings_granted"
    RECORDINGS_REVOKED = "recordings_revoked"
    EVENT_DELETED = "event_deleted"
    ARMED = "armed"
    PREVIEW_VIEWED = "preview_viewed"
    DISARMED = "disarmed"
    TOKEN_CREATED = "token_created"  # noqa: S105 (an event name, not a secret)
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 (an event name, not a secret)
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name, not a secret)
    LOGIN_SESSION_ENDED = "login_session_ended"
    LOGIN_FAILURES_SUPPRESSED = "login_failures_suppressed"  # a summary: see camera_app.logins
    LOGINS_UNLOCKED = "logins_unlocked"  # camera-app unlock-logins on the device
    VIEWERS_IMPORTED = "viewers_imported"  # a class list: one record beside each viewer_invited
    SITE_GRANT_CHANGED = "site_grant_changed"  # a site changed the grant of its viewer
    # the site's own log (site_app, on the relay host): its accounts, grants and tickets asked
    SITE_ACCOUNT_CREATED = "site_account_created"
    SITE_ACCOUNT_DISABLED = "site_account_disabled"
    SITE_ACCOUNT_ENABLED = "site_account_enabled"  # a disabled account enabled again, no grant
    SITE_GRANT_PUT = "site_grant_put"
    SITE_GRANT_WITHDRAWN = "site_grant_withdrawn"
    SITE_TERMS_ACCEPTED = "site_terms_accepted"
    SITE_PASSWORD_CHANGED = "site_password_changed"  # noqa: S105 (an event name, not a secret)
    SITE_TICKET_ASKED = "site_ticket_asked"  # with the device's answer code
    SITE_INVITE_CREATED = "site_invite_created"  # the grant it carries; never its code
    SITE_INVITES_IMPORTED = "site_invites_imported"  # a class list: count, rooms, encoding
    SITE_INVITE_WITHDRAWN = "site_invite_withdrawn"
    SITE_INVITE_REDEEMED = "site_invite_redeemed"  # the parent's account and grant made by it
    SITE_PASSWORD_RESET_ISSUED = "site_password_reset_issued"  # noqa: S105 (never its code)
    SITE_ROOM_PAUSED = "site_room_paused"  # staff stopped every parent watching a room
    SITE_ROOM_RESUMED = "site_room_resumed"
    SITE_PASSWORD_RESET = "site_password_reset"  # noqa: S105 (a link used: a new password set)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One record of the log, as stored."""

    seq: int
    at: float
    actor: str
    event: str
    camera_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "event": self.event,
            "camera_id": self.camera_id,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of :func:`verify`: ``ok`` when ``problems`` is empty."""

    ok: bool
    records: int
    problems: list[str] = field(default_factory=list)


def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def record_hash(
    seq: int,
    at: float,
    actor: str,
    event: str,
    camera_id: str | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of one record's fields."""
    body = _fields(seq, at, actor, event, camera_id, details, prev_hash)
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def _fields(
    seq: int,
    at: float,
    actor: str,
    event: str,
    camera_id: str | None,
    details: Any,
    prev_hash: str,
) -> dict[str, Any]:
    """The fields a record's hash covers (and that an export shows)."""
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "event": event,
        "camera_id": camera_id,
        "details": details,
        "prev_hash": prev_hash,
    }


def _check_no_secrets(value: Any, path: str = "details") -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings, not {key!r}")
            if _SECRET_KEY.search(re.sub(r"[\s-]+", "_", key.lower())):
                raise ValueError(f"{path}.{key}: secrets must not be written to the audit log")
            _check_no_secrets(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_no_secrets(item, f"{path}[{i}]")


class AuditLog:
    """Appends records to the audit log of one database connection.

    The connection must be in autocommit mode (``isolation_level=None``, as ``open_database``
    gives) and not inside a transaction when :meth:`append` is called, except one opened by
    :meth:`transaction`.
    """

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self._transaction_thread: int | None = None  # the thread inside transaction(), if any

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the log's connection: the changes made in it and the records
        appended in it (on this thread) commit together, or, on an exception, none of them do.

        For a change of many rows that must not half happen (a class list of invitations); the
        appends lock is held throughout, so keep it short and never await inside it.
        """
        conn = self._conn
        with _APPEND_LOCK:
            conn.execute("BEGIN IMMEDIATE")
            self._transaction_thread = threading.get_ident()
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._transaction_thread = None

    def append(
        self,
        event: AuditEvent | str,
        *,
        actor: str,
        camera_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one record and return it. Raises ValueError for a bad event or details."""
        event = AuditEvent(event)  # an unknown name is a bug in the caller, not a new event
        if not actor or not isinstance(actor, str):
            raise ValueError("actor must be a non-empty string")
        if camera_id is not None and not isinstance(camera_id, str):
            raise ValueError("camera_id must be a string or None")
        details = dict(details or {})
        _check_no_secrets(details)
        try:
            details_json = _canonical(details)
        except (TypeError, ValueError) as err:
            raise ValueError(f"details must be plain JSON: {err}") from None
        # Hash exactly what is stored and read back (tuples become lists, and so on).
        stored_details = json.loads(details_json)
        at = float(self._clock.wall())  # REAL column: an int would read back as a float

        conn = self._conn
        if self._transaction_thread == threading.get_ident():  # inside transaction(): join it
            seq, prev_hash, digest = self._insert(
                conn, at, actor, event, camera_id, stored_details, details_json
            )
        else:
            with _APPEND_LOCK:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    seq, prev_hash, digest = self._insert(
                        conn, at, actor, event, camera_id, stored_details, details_json
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # SQLite may already have rolled back (disk full)
                        conn.execute("ROLLBACK")
                    raise
        log.debug("audit seq %d: %s by %s", seq, event.value, actor)
        return AuditRecord(
            seq, at, actor, event.value, camera_id, stored_details, prev_hash, digest
        )

    def _insert(
        self,
        conn: sqlite3.Connection,
        at: float,
        actor: str,
        event: AuditEvent,
        camera_id: str | None,
        stored_details: dict[str, Any],
        details_json: str,
    ) -> tuple[int, str, str]:
        """Write the next record and move the head, inside the caller's transaction."""
        seq, prev_hash = self._next(conn)
        digest = record_hash(seq, at, actor, event.value, camera_id, stored_details, prev_hash)
        conn.execute(
            "INSERT INTO audit (seq, at, actor, event, camera_id, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, actor, event.value, camera_id, details_json, prev_hash, digest),
        )
        conn.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (seq, digest),
        )
        return seq, prev_hash, digest

    @staticmethod
    def _next(conn: sqlite3.Connection) -> tuple[int, str]:
        """The next seq and the hash to chain to, taken from the head where it is ahead.

        Chaining to the head (not to the last row) keeps a cut-off tail visible after later
        appends; otherwise the next record would paper over the gap.
        """
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        last_seq, last_hash = (last[0], last[1]) if last else (0, GENESIS_HASH)
        if head is None:
            if last is not None:
                log.warning("audit head is missing; chaining to the last record (seq %d)", last_seq)
            return last_seq + 1, last_hash
        head_seq, head_hash = head[0], head[1]
        if (head_seq, head_hash) != (last_seq, last_hash):
            # Never refuse to record: the mismatch stays visible to verify().
            log.warning(
                "audit log ends at seq %d but its head says seq %d; records may have been removed",
                last_seq,
                head_seq,
            )
        if head_seq >= last_seq:
            return head_seq + 1, head_hash
        return last_seq + 1, last_hash


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')")
    return {row[1] for row in rows}


def _rows(conn: sqlite3.Connection) -> Iterator[sqlite3.Row | tuple[Any, ...]]:
    yield from conn.execute(
        "SELECT seq, at, actor, event, camera_id, details, prev_hash, hash FROM audit ORDER BY seq"
    )


class _ReadSnapshot:
    """Read the audit table and its head from one consistent snapshot (WAL readers do not block)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._own = False

    def __enter__(self) -> sqlite3.Connection:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")
            self._own = True
        return self._conn

    def __exit__(self, *exc: object) -> None:
        if self._own:
            self._conn.execute("COMMIT")


def verify(conn: sqlite3.Connection) -> VerifyResult:
    """Recompute the chain and compare it with the head; every problem names the seq involved."""
    problems: list[str] = []
    count = 0
    with _ReadSnapshot(conn):
        names = _tables(conn)
        if "audit" not in names:
            if "audit_head" in names:
                problems.append("the audit table is missing but its head exists")
            return VerifyResult(not problems, 0, problems)
        for trigger in _TRIGGERS:
            if trigger not in names:
                problems.append(f"append-only trigger {trigger} is missing")

        expected_seq, expected_prev = 1, GENESIS_HASH
        last_seq, last_hash = 0, GENESIS_HASH
        for row in _rows(conn):
            count += 1
            seq, at, actor, event, camera_id, details_text, prev_hash, stored_hash = tuple(row)
            try:
                details = json.loads(details_text)
                computed = record_hash(seq, at, actor, event, camera_id, details, prev_hash)
            except (TypeError, ValueError):
                computed = None
            if computed != stored_hash:
                problems.append(f"seq {seq}: hash does not match its contents (record edited)")
            if seq != expected_seq:
                if isinstance(seq, int) and seq > expected_seq:
                    missing = str(expected_seq)
                    if seq > expected_seq + 1:
                        missing += f"-{seq - 1}"
                    problems.append(f"seq {seq}: records missing before it (seq {missing})")
                else:
                    problems.append(f"seq {seq}: expected seq {expected_seq} (records reordered)")
            if prev_hash != expected_prev:
                problems.append(
                    f"seq {seq}: prev_hash does not match the hash of the record before it"
                    " (record deleted, inserted or reordered)"
                )
            expected_prev, last_hash = stored_hash, stored_hash
            last_seq = seq
            expected_seq = seq + 1 if isinstance(seq, int) else expected_seq + 1

        head = (
            conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            if "audit_head" in names
            else None
        )
    if head is None:
        if count:
            problems.append(f"audit head is missing (log ends at seq {last_seq})")
    elif head[0] != last_seq:
        problems.append(
            f"head says the log ends at seq {head[0]} but it ends at seq {last_seq}"
            " (records removed from the end)"
        )
    elif head[1] != last_hash:
        problems.append(f"seq {last_seq}: hash differs from the one saved in the head")
    return VerifyResult(not problems, count, problems)


def export(conn: sqlite3.Connection, out: TextIO) -> int:
    """Write every record, oldest first, as JSON Lines; returns the number written.

    Records are exported as stored (not verified), so an export kept off the device can later
    prove what the log said at that time.
    """
    count = 0
    with _ReadSnapshot(conn):
        for row in _rows(conn):
            seq, at, actor, event, camera_id, details_text, prev_hash, digest = tuple(row)
            try:
                details = json.loads(details_text)
            except (TypeError, ValueError):
                details = details_text
            record = {
                **_fields(seq, at, actor, event, camera_id, details, prev_hash),
                "hash": digest,
            }
            out.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def _read_only(database: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)


def verify_file(database: Path) -> VerifyResult:
    """:func:`verify` on a read-only connection of its own: the whole chain is recomputed
    (seconds for a year of records), so a server runs this off its event loop
    (``asyncio.to_thread``) and keeps its shared connection free for the writers meanwhile."""
    conn = _read_only(database)
    try:
        return verify(conn)
    finally:
        conn.close()


def export_file(database: Path, out: TextIO) -> int:
    """:func:`export` on a read-only connection of its own, as :func:`verify_file`."""
    conn = _read_only(database)
    try:
        return export(conn, out)
    finally:
        conn.close()


MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of :func:`page`: records newest first, and the cursor of the next (older) one."""

    records: list[AuditRecord]
    cursor: str | None  # None on the last page


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    """The seq a cursor of :func:`page` names; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    kind, _, seq = raw.partition(":")
    if kind != "audit" or not seq.isdigit() or len(seq) > 18:
        raise ValueError("cursor: not a cursor this device gave out")
    return int(seq)


def page(
    conn: sqlite3.Connection,
    *,
    event: AuditEvent | None = None,
    actor: str | None = None,
    since: float | None = None,
    until: float | None = None,
    about: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Records newest first, filtered by event, actor (exact), time (``since <= at < until``)
    and the account they are about (``about``: their details' ``account``, as the site's records
    name one), ``limit`` at most (1..MAX_PAGE); ``cursor`` (from the previous page) continues with
    older ones. Raises ValueError for a cursor this function did not give out.

    Records are shown as stored; :func:`verify` says whether the chain holds.
    """
    before = _decode_cursor(cursor) if cursor is not None else None
    name = AuditEvent(event).value if event is not None else None
    limit = max(1, min(limit, MAX_PAGE))
    rows = conn.execute(
        "SELECT seq, at, actor, event, camera_id, details, prev_hash, hash FROM audit"
        " WHERE (?1 IS NULL OR seq < ?1) AND (?2 IS NULL OR event = ?2)"
        " AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR at >= ?4)"
        " AND (?5 IS NULL OR at < ?5)"
        " AND (?7 IS NULL OR json_valid(details) AND json_extract(details, '$.account') = ?7)"
        " ORDER BY seq DESC LIMIT ?6",
        (before, name, actor, since, until, limit + 1, about),
    ).fetchall()
    records = []
    for row in rows[:limit]:
        seq, at, who, name, camera_id, details_text, prev_hash, digest = tuple(row)
        try:
            details = json.loads(details_text)
        except (TypeError, ValueError):
            details = details_text
        records.append(AuditRecord(seq, at, who, name, camera_id, details, prev_hash, digest))
    more = len(rows) > limit
    return AuditPage(records, _encode_cursor(records[-1].seq) if more else None)


def records_after(conn: sqlite3.Connection, after: int, limit: int = MAX_PAGE) -> list[AuditRecord]:
    """Records with ``seq > after``, oldest first, ``limit`` at most (1..MAX_PAGE): for a reader
    that follows the log and checks the chain as it goes (a site, ``camera_app.sitelink``)."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = conn.execute(
        "SELECT seq, at, actor, event, camera_id, details, prev_hash, hash FROM audit"
        " WHERE seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    records = []
    for row in rows:
        seq, at, who, name, camera_id, details_text, prev_hash, digest = tuple(row)
        try:
            details = json.loads(details_text)
        except (TypeError, ValueError):
            details = details_text
        records.append(AuditRecord(seq, at, who, name, camera_id, details, prev_hash, digest))
    return records


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """The log's head: the seq and hash of its last record ((0, GENESIS_HASH) when empty)."""
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)
