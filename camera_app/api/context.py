"""What every handler shares (given by the composition root): the database, the live subsystem,
login sessions, and the HTTP answers to "which caller may reach which camera"."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.config.app import AppConfig
from camera_app.health import DeviceHealth
from camera_app.live.controller import StreamController
from camera_app.live.subsystem import LiveSubsystem
from camera_app.logins import LoginDevices, LoginLimiter, Logins, LoginSessions, Principal
from camera_app.masks import MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.grants import RecordingGrants
from camera_app.monitor.recordings import Recordings
from camera_app.passwords import PasswordWorkers
from camera_app.preview import LatestPicture
from camera_app.tokens import PREFIX as TOKEN_PREFIX
from camera_app.tokens import ApiTokens
from firmware.clock import Clock
from firmware.paths import StoragePaths
from privacy.audit import AuditLog
from privacy.gates.roles import Role
from privacy.gates.schedule import describe_moment, local_time
from privacy.gates.viewers import REFUSALS, Access, CameraInfo
from privacy.registration import RegistrationStore

SESSION_COOKIE = "session"


@dataclass
class ApiContext:
    """What the handlers are given by the composition root (``camera_app.app``); the API builds
    none of it."""

    conn: sqlite3.Connection
    clock: Clock
    config: AppConfig
    paths: StoragePaths
    live: LiveSubsystem
    registrations: RegistrationStore
    recordings: Recordings
    grants: RecordingGrants
    monitoring: MonitoringControl | None
    health: DeviceHealth | None
    pictures: Mapping[str, LatestPicture] | None  # per camera id
    masks: Mapping[str, MaskSettings] | None  # per camera id
    sessions: LoginSessions
    logins: Logins
    tokens: ApiTokens
    limiter: LoginLimiter
    audit: AuditLog
    tls: bool
    passwords: PasswordWorkers  # argon2's own threads: every password check and hash
    devices: LoginDevices  # the login device cookies

    @property
    def controller(self) -> StreamController:
        return self.live.controller

    def picture(self, camera_id: str) -> LatestPicture | None:
        """The camera's newest picture holder; None where nothing captures it here."""
        return self.pictures.get(camera_id) if self.pictures is not None else None

    # --- who is calling -----------------------------------------------------------------------

    def authenticate(self, request: web.Request) -> Principal | None:
        bearer = _bearer(request)
        if bearer.startswith(TOKEN_PREFIX):
            return self.tokens.lookup(bearer)  # an integration's scoped token, never a cookie
        token = bearer or request.cookies.get(SESSION_COOKIE, "")
        principal = self.sessions.lookup(token) if token else None
        if principal is None or self.live.rules.revoked(principal):
            return None
        if principal.session_id is not None:
            self.sessions.touch(
                principal.session_id,
                client=client_address(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        return principal

    # --- which camera -------------------------------------------------------------------------

    def camera_for_owner(self, camera_id: str) -> CameraInfo:
        camera = self.controller.cameras.get(camera_id)
        if camera is None:
            raise ApiError(404, "unknown_camera", f"no camera {camera_id!r} on this device")
        return camera

    def camera_for_viewer(self, principal: Principal, camera_id: str) -> CameraInfo:
        """The camera if the caller's grant covers it at all; otherwise a 403 that does not say
        whether the camera exists (ids are not secrets, but grants are not a directory)."""
        camera = self.controller.cameras.get(camera_id)
        if principal.role == Role.OWNER:
            return self.camera_for_owner(camera_id)
        if camera is None or self.live.rules.access(principal, camera).reason == "wrong_camera":
            raise ApiError(403, "wrong_camera", "you are not invited to this camera")
        return camera

    def recording_cameras(self, principal: Principal) -> frozenset[str] | None:
        """The cameras whose recordings the caller may see: None for the owner (every camera),
        a family viewer's granted cameras, and none for anyone else."""
        if principal.role == Role.OWNER:
            return None
        return self.grants.readable(self.live.rules.viewer(principal), self.controller.cameras)

    def camera_for_recordings(self, principal: Principal, camera_id: str) -> CameraInfo:
        """The camera if the caller may see its recordings; otherwise a 404 that reads like an
        unknown route, whether the camera exists or not (recordings are hidden, not refused)."""
        if principal.role == Role.OWNER:
            return self.camera_for_owner(camera_id)
        camera = self.controller.cameras.get(camera_id)
        readable = self.grants.readable(self.live.rules.viewer(principal), self.controller.cameras)
        if camera is None or camera.id not in readable:
            raise ApiError(404, "not_found", "no such resource")
        return camera

    def watchable(self, principal: Principal, camera: CameraInfo, lang: str) -> Access:
        """The viewing rules if the caller may watch ``camera`` now; otherwise the refusal
        (409 ``not_live``, else 403 with the reason in ``lang``)."""
        access = self.live.rules.access(principal, camera)
        if not access.allowed:
            code = access.reason or "forbidden"
            reason, extra = self.refusal(principal, code, lang)
            raise ApiError(409 if code == "not_live" else 403, code, reason, extra=extra)
        return access

    def refusal(self, principal: Principal, code: str, lang: str) -> tuple[str, dict[str, object]]:
        """The words for a refusal ``code`` in ``lang``, and what else the client may show:
        outside their hours, a viewer is told when the next window opens."""
        en, zh = REFUSALS.get(code, ("not allowed", "不允许"))
        reason = zh if lang == "zh" else en
        hours = self.live.rules.hours(principal) if code == "outside_viewing_hours" else None
        if hours is None or hours.next_at is None:
            return reason, {}
        moment = describe_moment(local_time(hours.next_at, self.controller.tz), _lang(lang))
        more = f"，下次开始：{moment}" if lang == "zh" else f"; they start again {moment}"
        return reason + more, {"next_window_at": hours.next_at}


CTX = web.AppKey("ctx", ApiContext)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def _lang(lang: str) -> Literal["en", "zh"]:
    return "zh" if lang == "zh" else "en"


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
