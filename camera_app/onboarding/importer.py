"""Making the invitations of a checked class list: all of them in one transaction, or none."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo

from camera_app.onboarding.classlist import ClassList, Family
from privacy.gates.roles import Role
from privacy.gates.viewers import INVITE_TTL_S, Invitation, Viewer, ViewerStore


class ImportRefused(ValueError):
    """Nothing was imported: the list has problems, or a username was taken meanwhile."""


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """One family's invitation: its viewer and the one-time code (shown once, never stored)."""

    family: Family
    viewer: Viewer
    code: str

    @property
    def code_expires_at(self) -> float:
        """Until when the code can be used to join (the access itself lasts until the end
        date)."""
        return self.viewer.invited_at + INVITE_TTL_S


def end_of_day(day: date, tz: tzinfo) -> float:
    """The last moment of ``day`` in the device's zone: an end date includes its whole day."""
    return datetime.combine(day, time.max, tz).timestamp()


def import_class_list(
    class_list: ClassList, store: ViewerStore, tz: tzinfo, *, actor: str
) -> list[IssuedInvite]:
    """Invite every family of ``class_list`` as a parent (watermark on, their rooms, schedule
    and end date), audited per invitation and once for the import, in one transaction.

    Only what the invitation needs is stored: the label and the card's language are not.
    Raises :class:`ImportRefused`, with nothing made, unless the list is :attr:`ClassList.ok`
    or when a username was taken between the check and the import.
    """
    if not class_list.ok:
        raise ImportRefused("the class list has problems; nothing was imported")
    families = class_list.families
    if any(f.username is None for f in families):
        raise ImportRefused("a family has no username; a device's invitation needs one")
    invitations = [
        Invitation(
            username=f.username or "",
            role=Role.PARENT,
            cameras=(),
            rooms=f.rooms,
            schedule=f.schedule,
            watermark=True,
            expires_at=end_of_day(f.expires_on, tz),
        )
        for f in families
    ]
    details = {
        "encoding": class_list.encoding,
        "rooms": sorted({room for f in families for room in f.rooms}),
    }
    try:
        made = store.invite_many(invitations, actor=actor, details=details)
    except sqlite3.IntegrityError:
        raise ImportRefused("a username was taken meanwhile; nothing was imported") from None
    return [IssuedInvite(f, viewer, code) for f, (viewer, code) in zip(families, made, strict=True)]
