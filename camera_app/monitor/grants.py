"""Which family viewers may see the recordings of which cameras.

Recordings are the owner's alone (DESIGN: "unless granted"). The owner may grant a family viewer
the recordings of some of the cameras the viewer is invited to; nobody else can be given any:
parents and public viewers never reach a recording. A grant lets its viewer list a camera's
events and open their snapshots and clips (each look audited with the viewer's name, as for the
owner by ``camera_app.monitor.recordings``), never delete one.

A grant is checked again on every request (:func:`readable_cameras`, a pure function): it stops
working the moment the viewer is revoked or their access expires, or when the camera leaves the
viewer's invitation or the home profile, without anyone having to clean it up.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Iterable, Mapping

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import PROFILE_OF_ROLE, Role
from privacy.gates.viewers import CameraInfo, Viewer, viewer_covers

log = logging.getLogger(__name__)


class GrantError(ValueError):
    """A grant the owner asked for cannot be given; ``code`` says why (``wrong_role``,
    ``viewer_inactive``, ``invalid_input``) and ``reason`` says it in words."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _active(viewer: Viewer, now: float) -> bool:
    return viewer.revoked_at is None and (viewer.expires_at is None or now < viewer.expires_at)


def _grantable(viewer: Viewer, camera: CameraInfo) -> bool:
    return viewer_covers(viewer, camera) and camera.profile == PROFILE_OF_ROLE[Role.FAMILY]


def readable_cameras(
    viewer: Viewer | None,
    granted: Iterable[str],
    cameras: Mapping[str, CameraInfo],
    now: float,
) -> frozenset[str]:
    """The cameras whose recordings ``viewer`` may see now: their granted cameras that exist,
    are home cameras and are still in their invitation, while the viewer is a family member
    who is neither revoked nor expired. Empty for everyone else."""
    if viewer is None or viewer.role != Role.FAMILY or not _active(viewer, now):
        return frozenset()
    return frozenset(
        camera_id
        for camera_id in granted
        if (camera := cameras.get(camera_id)) is not None and _grantable(viewer, camera)
    )


def check_grant(
    viewer: Viewer,
    cameras: Collection[str],
    device_cameras: Mapping[str, CameraInfo],
    now: float,
) -> None:
    """Refuse a grant that names a camera the viewer may not get (GrantError). An empty list is
    always fine for an active family viewer: it takes every recording away."""
    if viewer.role != Role.FAMILY:
        raise GrantError(
            "wrong_role",
            f"only family accounts can be given recordings; {viewer.username} is a {viewer.role}"
            " account",
        )
    if viewer.revoked_at is not None:
        raise GrantError("viewer_inactive", f"{viewer.username}'s access was revoked")
    if not _active(viewer, now):
        raise GrantError("viewer_inactive", f"{viewer.username}'s access has expired")
    for camera_id in cameras:
        camera = device_cameras.get(camera_id)
        if camera is None:
            raise GrantError("invalid_input", f"cameras: no camera {camera_id!r} on this device")
        if not _grantable(viewer, camera):
            raise GrantError(
                "invalid_input",
                f"cameras: {viewer.username} is not invited to {camera_id}; only cameras of"
                " their invitation can be granted",
            )


class RecordingGrants:
    """The recording grants in the device database; changing them is audited in the same call
    (``recordings_granted`` / ``recordings_revoked``, one record per camera, the viewer named)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def cameras(self, viewer_id: str) -> tuple[str, ...]:
        """The cameras granted to the viewer as stored (whether they still apply or not)."""
        rows = self._conn.execute(
            "SELECT camera_id FROM recording_grants WHERE viewer_id = ? ORDER BY camera_id",
            (viewer_id,),
        ).fetchall()
        return tuple(r[0] for r in rows)

    def all(self) -> dict[str, tuple[str, ...]]:
        """Every viewer's stored grant, by viewer id (viewers without one are left out)."""
        grants: dict[str, list[str]] = {}
        for viewer_id, camera_id in self._conn.execute(
            "SELECT viewer_id, camera_id FROM recording_grants ORDER BY viewer_id, camera_id"
        ):
            grants.setdefault(viewer_id, []).append(camera_id)
        return {viewer_id: tuple(cams) for viewer_id, cams in grants.items()}

    def readable(self, viewer: Viewer | None, cameras: Mapping[str, CameraInfo]) -> frozenset[str]:
        """The cameras whose recordings ``viewer`` may see now (see :func:`readable_cameras`)."""
        if viewer is None:
            return frozenset()
        return readable_cameras(viewer, self.cameras(viewer.id), cameras, self._clock.wall())

    def replace(
        self,
        viewer: Viewer,
        cameras: Collection[str],
        device_cameras: Mapping[str, CameraInfo],
        *,
        actor: str,
    ) -> tuple[str, ...]:
        """Make ``cameras`` the viewer's whole grant (empty: none), audited per camera added or
        taken away; returns the grant. GrantError, with nothing changed, when it cannot be given."""
        check_grant(viewer, cameras, device_cameras, self._clock.wall())
        before = set(self.cameras(viewer.id))
        after = set(cameras)
        added, removed = sorted(after - before), sorted(before - after)
        if added or removed:
            now = self._clock.wall()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "DELETE FROM recording_grants WHERE viewer_id = ? AND camera_id = ?",
                    [(viewer.id, c) for c in removed],
                )
                self._conn.executemany(
                    "INSERT INTO recording_grants (viewer_id, camera_id, granted_by, granted_at)"
                    " VALUES (?, ?, ?, ?)",
                    [(viewer.id, c, actor, now) for c in added],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        for event, changed in (
            (AuditEvent.RECORDINGS_GRANTED, added),
            (AuditEvent.RECORDINGS_REVOKED, removed),
        ):
            for camera_id in changed:
                self._audit.append(
                    event, actor=actor, camera_id=camera_id, details={"viewer": viewer.username}
                )
        if added or removed:
            log.info("recording grant of viewer %s: %s", viewer.id, sorted(after) or "none")
        return self.cameras(viewer.id)
