"""Config changes go into the audit log: which sections of the config file changed since the
last start, recorded as section digests (the values themselves may hold paths or URLs the owner
would rather keep out of an export, and the file is on the device anyway)."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3

from camera_app.config.app import AppConfig
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog

log = logging.getLogger(__name__)

ACTOR = "config-file"


def section_digests(config: AppConfig) -> dict[str, str]:
    """SHA-256 (first 16 hex digits) of each section's canonical JSON."""
    dumped = config.model_dump(mode="json")
    return {
        name: hashlib.sha256(
            json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
        for name, value in sorted(dumped.items())
    }


def _last_recorded(conn: sqlite3.Connection) -> dict[str, str] | None:
    row = conn.execute(
        "SELECT details FROM audit WHERE event = ? ORDER BY seq DESC LIMIT 1",
        (AuditEvent.CONFIG_CHANGED.value,),
    ).fetchone()
    if row is None:
        return None
    try:
        sections = json.loads(row[0]).get("sections")
    except (ValueError, AttributeError):
        return None
    return sections if isinstance(sections, dict) else None


def record_config_changes(
    conn: sqlite3.Connection, config: AppConfig, clock: Clock, *, actor: str = ACTOR
) -> list[str]:
    """Append a ``config_changed`` record if any section differs from the last one recorded.

    Returns the names of the sections that changed (every section on the first start).
    ``actor`` is who changed them: the config file (edited by hand, seen at start), or the
    owner who saved a setting in the owner app. ``config`` is the config in force, the owner's
    saved masks included, so the next start (which loads them over the file again) finds
    nothing new to record.
    """
    audit = AuditLog(conn, clock)
    current = section_digests(config)
    previous = _last_recorded(conn) or {}
    changed = sorted(
        k for k in current.keys() | previous.keys() if current.get(k) != previous.get(k)
    )
    if changed:
        audit.append(
            AuditEvent.CONFIG_CHANGED,
            actor=actor,
            camera_id=config.first_camera().id,
            details={"changed": changed, "sections": current, "first": not previous},
        )
        log.info("config changed (%s): %s", actor, ", ".join(changed))
    return changed
