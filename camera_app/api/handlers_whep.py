"""WHEP-style signalling for the live view: POST an SDP offer, get an SDP answer; DELETE ends it.

The offer is authorised like every other request (session, grant, gates: the same answer as
``GET /api/cameras/{id}/live``) and re-checked once a second while the session lasts; the
session ends with the login that opened it, and only that login (or the owner) may DELETE it.

A camera published to a relay is watched there instead: ``relay-ticket`` gives the caller a
ticket for the relay (same decision as the offer here), see ``camera_app.live.tickets``.
"""

from __future__ import annotations

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import VIEWERS, Call, RouteTable
from camera_app.live.tickets import TicketRefused
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


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/relay-ticket",
    summary="A ticket to watch this camera on the relay: short-lived, for this login and this "
    "camera only, ending with the viewing window; with the relay's viewer URL",
    roles=VIEWERS,
    tag="live",
    responses={
        201: "The ticket (present it as Authorization: Bearer at whep_url), its expiry",
        403: "May not watch now (the reason as for the live view)",
        409: "not_live; not_on_relay (watch on the device); watch_on_device (this viewer's "
        "watermark is drawn by the device only)",
    },
)
async def relay_ticket(call: Call) -> web.Response:
    access = call.ctx.watchable(call.principal, call.camera, call.lang)
    try:
        ticket = call.ctx.live.relay_ticket(call.camera, call.principal, access)
    except TicketRefused as err:
        raise ApiError(409, err.code, err.reason) from None
    return web.json_response(ticket.to_json(), status=201)
