"""What each parent may watch: rooms, a weekly schedule, an end date; and what the site tells
each device about it.

A grant names rooms, not devices: a room filmed by a camera of device 1 and another of device 2
is granted on both. Each device gets only the part it films (:func:`device_grant`): the grant's
rooms that one of its cameras films, with the same schedule and end date — and only once the
parent accepted the current viewing terms on the site. The site sends the
same per-device grant with every ticket request, and the device refuses a request whose grant
is not the one it took.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from camera_app.sitelink.protocol import GrantSet, SiteGrant
from firmware.clock import Clock
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION
from site_app.directory import DeviceState


@dataclass(frozen=True, slots=True)
class ParentGrant:
    account_id: str
    rooms: tuple[str, ...]
    schedule: Schedule
    expires_at: float
    terms: str | None = None  # the viewing terms the parent accepted on the site

    def to_json(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "rooms": list(self.rooms),
            "schedule": self.schedule.model_dump(),
            "expires_at": self.expires_at,
        }


class SiteGrantStore:
    """Grants in the site's database, one per parent account."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def put(
        self, account_id: str, rooms: list[str], schedule: Schedule, expires_at: float, *, by: str
    ) -> ParentGrant:
        self._conn.execute(
            "INSERT INTO grants (account_id, rooms, schedule, expires_at, granted_at, granted_by)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET rooms ="
            " excluded.rooms, schedule = excluded.schedule, expires_at = excluded.expires_at,"
            " granted_at = excluded.granted_at, granted_by = excluded.granted_by",
            (
                account_id,
                json.dumps(sorted(set(rooms)), ensure_ascii=False),
                schedule.model_dump_json(),
                expires_at,
                self._clock.wall(),
                by,
            ),
        )
        grant = self.get(account_id)
        assert grant is not None
        return grant

    def remove(self, account_id: str) -> bool:
        return (
            self._conn.execute("DELETE FROM grants WHERE account_id = ?", (account_id,)).rowcount
            > 0
        )

    def get(self, account_id: str) -> ParentGrant | None:
        row = self._conn.execute(
            "SELECT g.account_id, g.rooms, g.schedule, g.expires_at, a.terms_version"
            " FROM grants g JOIN accounts a ON a.id = g.account_id WHERE g.account_id = ?",
            (account_id,),
        ).fetchone()
        return _grant(row) if row else None

    def all(self) -> list[ParentGrant]:
        rows = self._conn.execute(
            "SELECT g.account_id, g.rooms, g.schedule, g.expires_at, a.terms_version"
            " FROM grants g JOIN accounts a ON a.id = g.account_id ORDER BY g.account_id"
        ).fetchall()
        return [_grant(r) for r in rows]


def _grant(row: sqlite3.Row) -> ParentGrant:
    return ParentGrant(
        row[0], tuple(json.loads(row[1])), Schedule.model_validate_json(row[2]), row[3], row[4]
    )


def device_grant(
    grant: ParentGrant, device: DeviceState, paused: frozenset[str] = frozenset()
) -> SiteGrant | None:
    """The part of ``grant`` that ``device`` films, less the ``paused`` rooms; None when that
    is no room, or the parent has not accepted the current viewing terms yet."""
    rooms = sorted((set(grant.rooms) & device.rooms) - paused)
    if not rooms or grant.terms != TERMS_VERSION:
        return None
    return SiteGrant(
        account=grant.account_id,
        role="parent",
        rooms=tuple(rooms),
        schedule=grant.schedule,
        expires_at=grant.expires_at,
        terms=grant.terms,
    )


def device_grant_set(
    grants: list[ParentGrant], device: DeviceState, paused: frozenset[str] = frozenset()
) -> GrantSet:
    """Every grant ``device`` should hold while ``paused`` rooms are paused."""
    parts = (device_grant(g, device, paused) for g in grants)
    return GrantSet(grants=tuple(g for g in parts if g is not None))


@dataclass(frozen=True, slots=True)
class GrantOnDevice:
    """Where one parent's grant stands on one device that films a room of it, as the device's
    own acknowledgement (``up/grants``) says: ``held`` (the grant the site sent), ``refused``
    (with the device's reason), ``waiting_terms`` (not sent: the parent has not accepted the
    viewing terms yet) or ``pending`` (sent, not acknowledged yet: the device is away, or has
    not answered)."""

    device: str
    state: str
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"device": self.device, "state": self.state, "reason": self.reason}


def grant_on_devices(
    grant: ParentGrant, devices: list[DeviceState], paused: frozenset[str] = frozenset()
) -> list[GrantOnDevice]:
    """Where ``grant`` stands on each of ``devices`` that films one of its rooms (``paused``:
    every room of it the device films is paused, so nothing is sent)."""
    out = []
    for device in sorted(devices, key=lambda d: d.id):
        filmed = set(grant.rooms) & device.rooms
        if not filmed:
            continue
        part = device_grant(grant, device, paused)
        ack = device.ack
        if part is None and grant.terms == TERMS_VERSION and filmed <= paused:
            out.append(GrantOnDevice(device.id, "paused"))
        elif part is None:
            out.append(GrantOnDevice(device.id, "waiting_terms"))
        elif ack is not None and grant.account_id in ack.refused:
            out.append(GrantOnDevice(device.id, "refused", ack.refused[grant.account_id]))
        elif ack is not None and ack.accepted.get(grant.account_id) == part.digest():
            out.append(GrantOnDevice(device.id, "held"))
        else:
            out.append(GrantOnDevice(device.id, "pending"))
    return out
