"""WHEP-style signalling for the live view: POST an SDP offer, get an SDP answer; DELETE ends it.

The offer is authorised like every other request (session, grant, gates: the same answer as
``GET /api/cameras/{id}/live``) and re-checked once a second while the session lasts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from aiohttp import web

from camera_app.api.context import CTX, ApiContext, language
from camera_app.api.errors import ApiError
from camera_app.api.routes import VIEWERS, RouteTable, principal_of
from camera_app.logins import Principal
from privacy.audit import AuditEvent
from privacy.gates.roles import Role
from privacy.gates.schedule import local_time
from streaming.watermark import Watermark
from streaming.whep import MAX_SDP_BYTES, SessionRefused, ViewerSession

routes = RouteTable()


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/whep",
    summary="Start watching: send an SDP offer (application/sdp), get the SDP answer",
    roles=VIEWERS,
    tag="live",
    content="application/sdp",
    responses={
        201: "SDP answer; Location names the session",
        409: "Not streaming",
        429: "Viewer limit reached",
    },
)
async def whep_offer(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal = principal_of(request)
    camera, access = ctx.watchable(principal, request.match_info["camera_id"], language(request))
    if request.content_type != "application/sdp":
        raise ApiError(415, "unsupported_media_type", "send the offer as application/sdp")
    raw = await request.content.read(MAX_SDP_BYTES + 1)
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_sdp", "the offer is not UTF-8") from None
    try:
        session, answer = await ctx.live.viewer_sessions.open(
            camera.id,
            principal.username,
            offer,
            principal,
            overlay=_watermark(ctx, principal) if access.watermark else None,
        )
    except SessionRefused as err:
        raise ApiError(err.status, err.code, err.reason) from None
    session.on_end.append(_audit_end(ctx))
    ctx.audit.append(
        AuditEvent.SESSION_STARTED,
        actor=principal.username,
        camera_id=camera.id,
        details={"session": session.id[:8], "role": principal.role, "watermark": access.watermark},
    )
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/api/whep/{session.id}"},
    )


def watermark_label(principal: Principal) -> str:
    """The account id burned into a viewer's frames: the viewer's id (ASCII hex, and it names
    the viewer in the audit log), else a digest of the user name (names may be Chinese)."""
    ident = principal.subject_id or hashlib.sha256(principal.username.encode()).hexdigest()
    return f"viewer {ident[:12]}"


def _watermark(ctx: ApiContext, principal: Principal) -> Watermark:
    tz = ctx.controller.tz
    return Watermark(watermark_label(principal), lambda: local_time(ctx.clock.wall(), tz))


def _audit_end(ctx: ApiContext) -> Callable[[ViewerSession, str], None]:
    def record(session: ViewerSession, reason: str) -> None:
        ctx.audit.append(
            AuditEvent.SESSION_ENDED,
            actor=session.account,
            camera_id=session.camera_id,
            details={"session": session.id[:8], "reason": reason},
        )

    return record


@routes.add(
    "DELETE",
    "/api/whep/{session_id}",
    summary="Stop watching (end the WHEP session)",
    roles=VIEWERS,
    tag="live",
    responses={200: "Ended", 404: "No such session of yours"},
)
async def whep_delete(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal = principal_of(request)
    session = ctx.live.viewer_sessions.get(request.match_info["session_id"])
    if session is None or (principal.role != Role.OWNER and session.account != principal.username):
        raise ApiError(404, "unknown_session", "no such session")
    await ctx.live.viewer_sessions.close(session.id, "viewer left")
    return web.json_response({"ended": True})
