"""What every handler shares: the database, the stream controller, sessions, and the rules for
which caller may reach which camera."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.config.app import AppConfig
from camera_app.live.controller import StreamController
from camera_app.live.relay import RelayPublishing
from camera_app.logins import LoginLimiter, LoginSessions, Principal
from firmware.clock import Clock
from firmware.paths import StoragePaths
from privacy.audit import AuditLog
from privacy.gates.schedule import local_time
from privacy.gates.viewers import (
    REFUSALS,
    Access,
    CameraInfo,
    PublicLink,
    Viewer,
    decide_access,
)
from privacy.registration import RegistrationStore
from streaming.hub import FrameHub
from streaming.whep import ViewerSessions

SESSION_COOKIE = "session"


@dataclass
class ApiContext:
    conn: sqlite3.Connection
    clock: Clock
    config: AppConfig
    paths: StoragePaths
    controller: StreamController
    registrations: RegistrationStore
    sessions: LoginSessions
    limiter: LoginLimiter
    audit: AuditLog
    public_base_url: str
    tls: bool
    hub: FrameHub
    viewer_sessions: ViewerSessions
    relay: RelayPublishing

    # --- who is calling -----------------------------------------------------------------------

    def authenticate(self, request: web.Request) -> Principal | None:
        token = _bearer(request) or request.cookies.get(SESSION_COOKIE, "")
        principal = self.sessions.lookup(token) if token else None
        if principal is None:
            return None
        # A revoked viewer or link loses its sessions at once; this also covers a session
        # created a moment before the revocation landed.
        if principal.role in ("family", "parent"):
            viewer = self.viewer(principal)
            if viewer is None or viewer.revoked_at is not None:
                return None
        elif principal.role == "public":
            link = self.link(principal)
            if link is None or link.revoked_at is not None:
                return None
        return principal

    def viewer(self, principal: Principal) -> Viewer | None:
        if principal.role not in ("family", "parent") or principal.subject_id is None:
            return None
        return self.controller.viewers.get(principal.subject_id)

    def link(self, principal: Principal) -> PublicLink | None:
        if principal.role != "public" or principal.subject_id is None:
            return None
        return self.controller.viewers.public_link(principal.subject_id)

    # --- which camera -------------------------------------------------------------------------

    def camera_for_owner(self, camera_id: str) -> CameraInfo:
        camera = self.controller.cameras.get(camera_id)
        if camera is None:
            raise ApiError(404, "unknown_camera", f"no camera {camera_id!r} on this device")
        return camera

    def access(self, principal: Principal, camera: CameraInfo) -> Access:
        now = self.clock.wall()
        return decide_access(
            role=principal.role,
            camera=camera,
            live=self.controller.is_live(camera.id),
            now=now,
            local_now=local_time(now, self.controller.tz),
            viewer=self.viewer(principal),
            link=self.link(principal),
            live_childcare_permitted=self.config.streaming.live_childcare_viewing_permitted,
        )

    def camera_for_viewer(self, principal: Principal, camera_id: str) -> CameraInfo:
        """The camera if the caller's grant covers it at all; otherwise a 403 that does not say
        whether the camera exists (ids are not secrets, but grants are not a directory)."""
        camera = self.controller.cameras.get(camera_id)
        if principal.role == "owner":
            return self.camera_for_owner(camera_id)
        if camera is None or self.access(principal, camera).reason == "wrong_camera":
            raise ApiError(403, "wrong_camera", "you are not invited to this camera")
        return camera

    def watchable(
        self, principal: Principal, camera_id: str, lang: str
    ) -> tuple[CameraInfo, Access]:
        """The camera and its viewing rules if the caller may watch it now; otherwise the refusal
        (409 ``not_live``, else 403 with the reason in ``lang``)."""
        camera = self.camera_for_viewer(principal, camera_id)
        access = self.access(principal, camera)
        if not access.allowed:
            code = access.reason or "forbidden"
            en, zh = REFUSALS.get(code, ("not allowed", "不允许"))
            raise ApiError(409 if code == "not_live" else 403, code, zh if lang == "zh" else en)
        return camera, access

    def visible_cameras(self, principal: Principal) -> list[CameraInfo]:
        cameras = list(self.controller.cameras.values())
        if principal.role == "owner":
            return cameras
        return [c for c in cameras if self.access(principal, c).reason != "wrong_camera"]


CTX = web.AppKey("ctx", ApiContext)


async def enforce_sessions(ctx: ApiContext) -> int:
    """End every live-view session whose caller may no longer watch (schedule over, revoked,
    expired, stream stopped); returns how many were ended."""
    ended = 0
    for session in list(ctx.viewer_sessions.of_all()):
        camera = ctx.controller.cameras.get(session.camera_id)
        access = ctx.access(session.principal, camera) if camera else None
        if access is None or not access.allowed:
            reason = access.reason if access and access.reason else "not allowed"
            ended += await ctx.viewer_sessions.close(session.id, reason)
    return ended


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def language(request: web.Request) -> str:
    """``zh`` when the client prefers Chinese, else ``en`` (the owner UI speaks both)."""
    accept = request.headers.get("Accept-Language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"
