"""WHEP-style signalling for the live view: POST an SDP offer, get an SDP answer; DELETE ends it.

The offer is authorised like every other request (session, grant, gates: the same answer as
``GET /api/cameras/{id}/live``) and re-checked once a second while the session lasts; the
session ends with the login that opened it, and only that login (or the owner) may DELETE it.
"""

from __future__ import annotations

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import VIEWERS, Call, RouteTable
from privacy.gates.roles import Role
from streaming.whep import MAX_SDP_BYTES, SessionRefused

routes = RouteTable()


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/whep",
    summary="Start watching: send an SDP offer (application/sdp), get the SDP answer",
    roles=VIEWERS,
    tag="live",
    content="application/sdp",
    accepts="application/sdp",
    responses={
        201: "SDP answer; Location names the session",
        409: "Not streaming (or the session was ended while its offer was answered)",
        429: "Viewer limit reached: camera_full, account_full or link_full",
    },
)
async def whep_offer(call: Call) -> web.Response:
    access = call.ctx.watchable(call.principal, call.camera, call.lang)
    if call.request.content_type != "application/sdp":
        raise ApiError(415, "unsupported_media_type", "send the offer as application/sdp")
    raw = await call.request.content.read(MAX_SDP_BYTES + 1)
    try:
        offer = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_sdp", "the offer is not UTF-8") from None
    try:
        session, answer = await call.ctx.live.watch(
            call.camera, call.principal, access, offer, call.request.remote or "unknown"
        )
    except SessionRefused as err:
        raise ApiError(err.status, err.code, err.reason) from None
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": f"/api/whep/{session.id}"},
    )


@routes.add(
    "DELETE",
    "/api/whep/{session_id}",
    summary="Stop watching (end the WHEP session)",
    roles=VIEWERS,
    tag="live",
    responses={200: "Ended", 404: "No such session opened by this login"},
)
async def whep_delete(call: Call) -> web.Response:
    ctx = call.ctx
    principal = call.principal
    session = ctx.live.viewer_sessions.get(call.param("session_id"))
    # Only the login that opened a session ends it (a public link's audience shares one name;
    # so do a family member's phone and tablet), or the owner.
    login = principal.session_id
    own = session is not None and login is not None and session.seat.login == login
    if session is None or not (own or principal.role == Role.OWNER):
        raise ApiError(404, "unknown_session", "no such session")
    if own:
        await ctx.live.viewer_sessions.close(session.id, "viewer left")
    else:  # the owner ends someone else's session: audited as such
        await ctx.live.end_session(session.id, actor=principal.username)
    return web.json_response({"ended": True})
