"""The owner's recordings (motion events with their clip and snapshot), as the owner app sees
them: pages of events, the files behind them, and deletion. A family viewer the owner granted
some cameras (``camera_app.monitor.grants``) reads those cameras' events the same way; deleting
stays the owner's.

Every access to a picture or a clip is written to the audit log (who, which event, what), and so
is every deletion, in the same call that serves or deletes it. A browser fetches one clip in many
HTTP range requests (play, seek), so a clip or snapshot seen again by the same person within
:data:`VIEW_AUDIT_WINDOW_S` is not recorded again: the log says who looked at what, not how many
bytes they fetched.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from camera_app.monitor.store import EventRecord, EventStore
from firmware.clock import Clock
from firmware.paths import StoragePaths
from privacy.audit import AuditEvent, AuditLog

log = logging.getLogger(__name__)

VIEW_AUDIT_WINDOW_S = 600.0
MAX_PAGE = 200
MAX_VIEW_MARKS = 10_000

FileKind = Literal["clip", "snapshot"]


class RecordingError(LookupError):
    """An event or its file cannot be served; ``code`` says why (``unknown_event``,
    ``no_clip``, ``no_snapshot``, ``recording``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[EventRecord]
    cursor: str | None  # pass back for the next (older) page; None on the last page


def encode_cursor(event: EventRecord) -> str:
    raw = f"{event.started_at!r}|{event.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The ``(started_at, id)`` a cursor names; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        started, _, event_id = raw.partition("|")
        value = float(started)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("cursor: not a cursor this device gave out") from None
    if not event_id or value != value:  # NaN
        raise ValueError("cursor: not a cursor this device gave out")
    return value, event_id


class Recordings:
    """Events of the cameras in ``cameras`` and their files; thread-safe."""

    def __init__(
        self,
        store: EventStore,
        paths: StoragePaths,
        audit: AuditLog,
        clock: Clock,
        cameras: frozenset[str],
    ) -> None:
        self._store = store
        self._paths = paths
        self._audit = audit
        self._clock = clock
        self._cameras = cameras
        self._seen: dict[tuple[str, str, str], float] = {}  # (actor, event, kind) -> monotonic
        self._lock = threading.Lock()

    def page(
        self,
        camera_id: str,
        *,
        limit: int = 50,
        since: float | None = None,
        until: float | None = None,
        cursor: str | None = None,
    ) -> EventPage:
        """One page of the camera's events, newest first. ValueError for a bad cursor."""
        before = decode_cursor(cursor) if cursor else None
        limit = max(1, min(limit, MAX_PAGE))
        rows = self._store.page(camera_id, limit=limit + 1, since=since, until=until, before=before)
        more = len(rows) > limit
        events = rows[:limit]
        return EventPage(events, encode_cursor(events[-1]) if more and events else None)

    def get(self, event_id: str, *, within: Collection[str] | None = None) -> EventRecord:
        """The event; ``within`` limits it to those cameras (a family viewer's grant), so an
        event of any other camera is as unknown as one that never existed."""
        event = self._store.get(event_id)
        if (
            event is None
            or event.camera_id not in self._cameras
            or (within is not None and event.camera_id not in within)
        ):
            raise RecordingError("unknown_event", "no such event")
        return event

    def open_file(
        self,
        event_id: str,
        kind: FileKind,
        *,
        actor: str,
        within: Collection[str] | None = None,
    ) -> tuple[EventRecord, Path]:
        """The event and the path of its clip or snapshot, the access audited (``within`` as
        for :meth:`get`)."""
        event = self.get(event_id, within=within)
        relative = event.clip_path if kind == "clip" else event.snapshot_path
        path = self._paths.absolute(relative) if relative else None
        if path is None or not path.is_file():
            raise RecordingError(f"no_{kind}", f"this event has no {kind}")
        if self._first_view(actor, event.id, kind):
            self._audit.append(
                AuditEvent.RECORDING_VIEWED,
                actor=actor,
                camera_id=event.camera_id,
                details={"event": event.id, "what": kind},
            )
        return event, path

    def delete(self, event_id: str, *, actor: str) -> EventRecord:
        """Delete an event's clip, snapshot and row (audited). An event still being recorded
        cannot be deleted (``recording``): its clip is open in the recorder."""
        event = self.get(event_id)
        if event.status == "active":
            raise RecordingError("recording", "this event is still being recorded")
        for relative in (event.clip_path, event.snapshot_path):
            if relative:
                self._paths.absolute(relative).unlink(missing_ok=True)
        self._store.delete(event.id)
        self._audit.append(
            AuditEvent.EVENT_DELETED,
            actor=actor,
            camera_id=event.camera_id,
            details={"event": event.id, "started_at": event.started_at},
        )
        log.info("event %s deleted by the owner", event.id)
        return event

    def _first_view(self, actor: str, event_id: str, kind: str) -> bool:
        now = self._clock.monotonic()
        key = (actor, event_id, kind)
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < VIEW_AUDIT_WINDOW_S:
                return False
            if len(self._seen) >= MAX_VIEW_MARKS:
                self._seen = {k: t for k, t in self._seen.items() if now - t < VIEW_AUDIT_WINDOW_S}
            self._seen[key] = now
            return True
