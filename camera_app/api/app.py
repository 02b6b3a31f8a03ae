"""Builds the aiohttp application of the owner API around the context the composition root gives."""

from __future__ import annotations

from aiohttp import web

from camera_app.api import (
    handlers_account,
    handlers_audit,
    handlers_device,
    handlers_events,
    handlers_gates,
    handlers_masks,
    handlers_misc,
    handlers_onboarding,
    handlers_sessions,
    handlers_streaming,
    handlers_tokens,
    handlers_viewers,
    handlers_web,
    handlers_whep,
)
from camera_app.api.context import CTX, ApiContext
from camera_app.api.errors import Handler, json_errors
from camera_app.api.guards import (
    HOSTS,
    MUTATING,
    HostAllowList,
    body_in_time,
    known_host,
    same_site_changes,
)
from camera_app.api.routes import RouteTable, openapi

API_VERSION = "1"
MAX_BODY_BYTES = 64 * 1024


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
        if request.method in MUTATING:
            request.app[CTX].controller.reevaluate()


def route_table() -> RouteTable:
    table = RouteTable()
    for module in (
        handlers_account,
        handlers_sessions,
        handlers_events,
        handlers_device,
        handlers_masks,
        handlers_tokens,
        handlers_streaming,
        handlers_gates,
        handlers_viewers,
        handlers_onboarding,
        handlers_whep,
        handlers_misc,
        handlers_audit,
        handlers_web,
    ):
        table.routes.extend(module.routes.routes)
    return table


def build_app(ctx: ApiContext) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY_BYTES,
        # the guards run first (Host, cross-site, body deadline), inside json_errors so that
        # their refusals are JSON like every other
        middlewares=[
            _security_headers,
            json_errors,
            known_host,
            same_site_changes,
            body_in_time,
            _recheck_gates,
        ],
    )
    app[CTX] = ctx
    app[HOSTS] = HostAllowList.for_device(ctx.config)
    table = route_table()
    table.install(app)
    app[handlers_misc.OPENAPI_KEY] = openapi(
        table, title="Privacy-first camera: owner API", version=API_VERSION
    )
    return app
