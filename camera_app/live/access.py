"""Who may watch which camera now: the viewing rules of the live subsystem.

A login session names a principal (``camera_app.logins``); these rules look up the viewer's
invitation or the public link behind it and ask :func:`privacy.gates.viewers.decide_access`
whether the camera may be watched at this moment (grant, schedule, revocation, the stream being
live). The owner API asks before it opens a session; the supervision asks again every second.
"""

from __future__ import annotations

from camera_app.live.controller import StreamController
from camera_app.logins import Principal
from firmware.clock import Clock
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.schedule import local_time
from privacy.gates.viewers import (
    Access,
    CameraInfo,
    PublicLink,
    Viewer,
    ViewingHours,
    decide_access,
    viewing_hours,
)


class ViewingRules:
    """Decides access per (principal, camera) from the controller's stores and the clock."""

    def __init__(
        self, controller: StreamController, clock: Clock, *, live_childcare_permitted: bool
    ) -> None:
        self._controller = controller
        self._clock = clock
        self._live_childcare_permitted = live_childcare_permitted

    def viewer(self, principal: Principal) -> Viewer | None:
        """The invitation behind a family or parent login, if any."""
        if principal.role not in INVITED_ROLES or principal.subject_id is None:
            return None
        return self._controller.viewers.get(principal.subject_id)

    def link(self, principal: Principal) -> PublicLink | None:
        """The public link behind a public login, if any."""
        if principal.role != Role.PUBLIC or principal.subject_id is None:
            return None
        return self._controller.viewers.public_link(principal.subject_id)

    def revoked(self, principal: Principal) -> bool:
        """True when the invitation or link behind the login is gone or revoked; this also covers
        a session created a moment before the revocation landed."""
        if principal.role in INVITED_ROLES:
            viewer = self.viewer(principal)
            return viewer is None or viewer.revoked_at is not None
        if principal.role == Role.PUBLIC:
            link = self.link(principal)
            return link is None or link.revoked_at is not None
        return False

    def access(self, principal: Principal, camera: CameraInfo) -> Access:
        now = self._clock.wall()
        return decide_access(
            role=principal.role,
            camera=camera,
            live=self._controller.is_live(camera.id),
            now=now,
            local_now=local_time(now, self._controller.tz),
            viewer=self.viewer(principal),
            link=self.link(principal),
            live_childcare_permitted=self._live_childcare_permitted,
        )

    def hours(self, principal: Principal) -> ViewingHours | None:
        """The viewing hours of a family or parent login from now; None for other roles."""
        viewer = self.viewer(principal)
        if viewer is None:
            return None
        now = self._clock.wall()
        return viewing_hours(viewer, now, local_time(now, self._controller.tz))

    def visible_cameras(self, principal: Principal) -> list[CameraInfo]:
        """Every camera for the owner; for others, the cameras their grant covers."""
        cameras = list(self._controller.cameras.values())
        if principal.role == Role.OWNER:
            return cameras
        return [c for c in cameras if self.access(principal, c).reason != "wrong_camera"]
