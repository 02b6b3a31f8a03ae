"""Builds the aiohttp application of the owner API from its parts."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Mapping

from aiohttp import web

from camera_app.api import (
    handlers_account,
    handlers_gates,
    handlers_misc,
    handlers_streaming,
    handlers_viewers,
    handlers_web,
    handlers_whep,
)
from camera_app.api.context import CTX, ApiContext
from camera_app.api.errors import Handler, json_errors
from camera_app.api.routes import RouteTable, openapi
from camera_app.config.app import AppConfig
from camera_app.live.controller import StreamController
from camera_app.live.relay import RelayPublishing
from camera_app.logins import LoginLimiter, LoginSessions
from firmware.clock import Clock
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.audit import AuditLog
from privacy.gates.viewers import CameraInfo
from privacy.registration import RegistrationStore
from privacy.secrets import DeviceSecretStore, FieldCipher
from streaming.hub import FrameHub
from streaming.whep import ViewerSessions

API_VERSION = "1"
MAX_BODY_BYTES = 64 * 1024
_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cameras_from_config(config: AppConfig) -> dict[str, CameraInfo]:
    cam = config.camera
    return {cam.id: CameraInfo(cam.id, cam.name, cam.room, config.streaming.profile)}


def public_base_url(config: AppConfig) -> str:
    if config.streaming.public_url:
        return config.streaming.public_url.rstrip("/")
    scheme = "https" if config.api.tls else "http"
    return f"{scheme}://{socket.gethostname()}:{config.api.port}"


def build_context(
    config: AppConfig,
    conn: sqlite3.Connection,
    clock: Clock,
    indicator: StreamingIndicator,
    *,
    cameras: Mapping[str, CameraInfo] | None = None,
) -> ApiContext:
    """Everything the handlers share, on one database connection owned by the server's thread."""
    paths = StoragePaths(config.storage.data_dir)
    paths.create()
    cipher = FieldCipher.from_store(DeviceSecretStore(paths.field_key))
    registrations = RegistrationStore(conn, cipher, clock)
    controller = StreamController(
        conn,
        cameras if cameras is not None else cameras_from_config(config),
        config.streaming,
        indicator,
        clock,
        config.camera.tzinfo(),
        registrations,
    )
    loop = asyncio.get_running_loop()
    hub = FrameHub(loop)
    viewer_sessions = ViewerSessions(hub)

    audit = AuditLog(conn, clock)
    relay = RelayPublishing(
        config.streaming.relay, viewer_sessions, controller.is_live, audit, clock.monotonic
    )

    ending: set[asyncio.Future[object]] = set()  # referenced until done

    def end_sessions(camera_id: str, reason: str) -> None:
        def end() -> None:
            for work in (
                viewer_sessions.close_camera(camera_id, reason),
                relay.stop(camera_id, reason),
            ):
                task = asyncio.ensure_future(work)
                ending.add(task)
                task.add_done_callback(ending.discard)

        loop.call_soon_threadsafe(end)

    controller.add_stop_listener(end_sessions)
    return ApiContext(
        conn=conn,
        clock=clock,
        config=config,
        paths=paths,
        controller=controller,
        registrations=registrations,
        sessions=LoginSessions(conn, clock, config.api.session_hours * 3600),
        limiter=LoginLimiter(config.api.login_max_failures, config.api.login_window_s, clock),
        audit=audit,
        public_base_url=public_base_url(config),
        tls=config.api.tls,
        hub=hub,
        viewer_sessions=viewer_sessions,
        relay=relay,
    )


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"
    )
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if request.app[CTX].tls:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


@web.middleware
async def _recheck_gates(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After any change, re-check the gates at once (not only at the next tick)."""
    try:
        return await handler(request)
    finally:
        if request.method in _MUTATING:
            request.app[CTX].controller.reevaluate()


def route_table() -> RouteTable:
    table = RouteTable()
    for module in (
        handlers_account,
        handlers_streaming,
        handlers_gates,
        handlers_viewers,
        handlers_whep,
        handlers_misc,
        handlers_web,
    ):
        table.routes.extend(module.routes.routes)
    return table


def build_app(ctx: ApiContext) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        middlewares=[_security_headers, json_errors, _recheck_gates],
    )
    app[CTX] = ctx
    table = route_table()
    table.install(app, ctx.authenticate)
    app[handlers_misc.OPENAPI_KEY] = openapi(
        table, title="Privacy-first camera: owner API", version=API_VERSION
    )
    return app
