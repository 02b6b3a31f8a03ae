"""Cameras, the streaming state machine (opt-in, start, stop) and the viewer access check."""

from __future__ import annotations

from aiohttp import web

from camera_app.api.context import CTX, language
from camera_app.api.errors import ApiError, read_body
from camera_app.api.routes import OWNER, VIEWERS, RouteTable, principal_of
from camera_app.api.schemas import OptInBody, StopBody
from camera_app.live.controller import GatesClosed
from privacy.audit import AuditEvent

routes = RouteTable()


def confirmation_phrase(camera_id: str) -> str:
    return f"STREAM {camera_id}"


@routes.add(
    "GET", "/api/cameras", summary="Cameras the caller may see", roles=VIEWERS, tag="cameras"
)
async def list_cameras(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal = principal_of(request)
    return web.json_response(
        [
            {
                "id": c.id,
                "name": c.name,
                "room": c.room,
                "profile": c.profile,
                "live": ctx.controller.is_live(c.id),
            }
            for c in ctx.live.rules.visible_cameras(principal)
        ]
    )


def _status_body(request: web.Request, camera_id: str) -> dict[str, object]:
    ctx = request.app[CTX]
    status = ctx.controller.status(camera_id)
    opt_in = ctx.controller.gates.current_opt_in(camera_id)
    return {
        "camera_id": camera_id,
        "state": status.state.value,
        "since": status.since,
        "last_stop_reason": status.reason,
        "opted_in": opt_in is not None,
        "confirmation_phrase": confirmation_phrase(camera_id),
        **ctx.controller.report(camera_id).to_json(language(request)),
    }


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/streaming",
    summary="Streaming state and every gate of the camera's profile, with why each is closed",
    roles=OWNER,
    tag="streaming",
)
async def streaming_status(request: web.Request) -> web.Response:
    camera = request.app[CTX].camera_for_owner(request.match_info["camera_id"])
    return web.json_response(_status_body(request, camera.id))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/opt-in",
    summary="Opt in to live streaming (typed confirmation 'STREAM <camera id>')",
    roles=OWNER,
    tag="streaming",
    body=OptInBody,
    responses={200: "Opted in", 422: "Confirmation does not match"},
)
async def opt_in(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    camera = ctx.camera_for_owner(request.match_info["camera_id"])
    body = await read_body(request, OptInBody)
    if body.confirmation != confirmation_phrase(camera.id):
        raise ApiError(
            422,
            "confirmation_mismatch",
            f"type exactly '{confirmation_phrase(camera.id)}' to opt in",
        )
    principal = principal_of(request)
    ctx.controller.gates.opt_in(camera.id, camera.profile, principal.username)
    ctx.audit.append(
        AuditEvent.OPT_IN,
        actor=principal.username,
        camera_id=camera.id,
        details={"profile": camera.profile},
    )
    return web.json_response(_status_body(request, camera.id))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/opt-out",
    summary="Withdraw the opt-in; a live stream stops at once",
    roles=OWNER,
    tag="streaming",
)
async def opt_out(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    camera = ctx.camera_for_owner(request.match_info["camera_id"])
    principal = principal_of(request)
    if ctx.controller.gates.opt_out(camera.id, principal.username):
        ctx.audit.append(AuditEvent.OPT_OUT, actor=principal.username, camera_id=camera.id)
    ctx.controller.stop(camera.id, principal.username, "owner opted out")
    return web.json_response(_status_body(request, camera.id))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/start",
    summary="Start streaming; refused with the list of closed gates unless all hold",
    roles=OWNER,
    tag="streaming",
    responses={200: "Streaming", 409: "Some gate is closed"},
)
async def start_stream(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    camera = ctx.camera_for_owner(request.match_info["camera_id"])
    try:
        ctx.controller.start(camera.id, principal_of(request).username)
    except GatesClosed as err:
        lang = language(request)
        first = next(c for c in err.report.checks if not c.ok)
        raise ApiError(
            409,
            "gates_closed",
            (first.reason_zh if lang == "zh" else first.reason) or "a gate is closed",
            extra={"closed": err.report.closed, **err.report.to_json(lang)},
        ) from None
    return web.json_response(_status_body(request, camera.id))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/stop",
    summary="Stop streaming (back to monitoring only)",
    roles=OWNER,
    tag="streaming",
    body=StopBody,
)
async def stop_stream(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    camera = ctx.camera_for_owner(request.match_info["camera_id"])
    body = await read_body(request, StopBody) if request.body_exists else StopBody()
    ctx.controller.stop(camera.id, principal_of(request).username, body.reason)
    return web.json_response(_status_body(request, camera.id))


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/live",
    summary="May the caller watch this camera now? (what the live player asks first)",
    roles=VIEWERS,
    tag="cameras",
    responses={200: "Allowed, with watermark/audio rules", 403: "Refused, with the reason"},
)
async def live_access(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    principal = principal_of(request)
    camera, access = ctx.watchable(principal, request.match_info["camera_id"], language(request))
    return web.json_response(
        {
            "camera_id": camera.id,
            "allowed": True,
            "watermark": access.watermark,
            "audio": access.audio,
            "seconds_left": access.seconds_left,
        }
    )
