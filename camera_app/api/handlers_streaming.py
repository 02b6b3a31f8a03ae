"""Cameras, the streaming state machine (opt-in, start, stop, auto-start) and the viewer access
check."""

from __future__ import annotations

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, VIEWERS, Call, RouteTable
from camera_app.api.schemas import AutoStartBody, OptInBody, StopBody
from camera_app.live.autostart import AutoStartUnavailable
from camera_app.live.controller import GatesClosed

routes = RouteTable()


def confirmation_phrase(camera_id: str) -> str:
    return f"STREAM {camera_id}"


@routes.add(
    "GET", "/api/cameras", summary="Cameras the caller may see", roles=VIEWERS, tag="cameras"
)
async def list_cameras(call: Call) -> web.Response:
    ctx = call.ctx
    return web.json_response(
        [
            {
                "id": c.id,
                "name": c.name,
                "room": c.room,
                "profile": c.profile,
                "live": ctx.controller.is_live(c.id),
            }
            for c in ctx.live.rules.visible_cameras(call.principal)
        ]
    )


def _status_body(call: Call) -> dict[str, object]:
    ctx, camera_id = call.ctx, call.camera.id
    status = ctx.controller.status(camera_id)
    gates = ctx.controller.gates
    opt_in = gates.current_opt_in(camera_id)
    notice = gates.current_notice(camera_id)
    consent = gates.valid_consent(camera_id)
    due = ctx.controller.reattest_due(camera_id)
    return {
        "camera_id": camera_id,
        "state": status.state.value,
        "since": status.since,
        "last_stop_reason": status.reason,
        "opted_in": opt_in is not None,
        "confirmation_phrase": confirmation_phrase(camera_id),
        # what the setup wizard shows beside the gates: the sign in force and the consent record
        "notice": None
        if notice is None
        else {**notice.to_json(), "sign": f"/api/notices/{notice.id}/sign.pdf"},
        "consent": None if consent is None else consent.to_json(),
        **ctx.controller.report(camera_id).to_json(call.lang),
        "autostart": ctx.live.autostart.to_json(camera_id),
        "reattest_due": due.to_json(ctx.clock.wall()) if due is not None else None,
    }


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/streaming",
    summary="Streaming state and every gate of the camera's profile, with why each is closed",
    roles=OWNER,
    tag="streaming",
)
async def streaming_status(call: Call) -> web.Response:
    return web.json_response(_status_body(call))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/opt-in",
    summary="Opt in to live streaming (typed confirmation 'STREAM <camera id>')",
    roles=OWNER,
    tag="streaming",
    body=OptInBody,
    responses={200: "Opted in", 422: "Confirmation does not match"},
)
async def opt_in(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    body = await call.body(OptInBody)
    if body.confirmation != confirmation_phrase(camera.id):
        raise ApiError(
            422,
            "confirmation_mismatch",
            f"type exactly '{confirmation_phrase(camera.id)}' to opt in",
        )
    ctx.controller.gates.opt_in(camera.id, camera.profile, call.actor)
    return web.json_response(_status_body(call))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/opt-out",
    summary="Withdraw the opt-in; a live stream stops at once",
    roles=OWNER,
    tag="streaming",
)
async def opt_out(call: Call) -> web.Response:
    ctx, camera = call.ctx, call.camera
    ctx.controller.gates.opt_out(camera.id, call.actor)
    ctx.controller.stop(camera.id, call.actor, "owner opted out")
    return web.json_response(_status_body(call))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/start",
    summary="Start streaming; refused with the list of closed gates unless all hold",
    roles=OWNER,
    tag="streaming",
    responses={200: "Streaming", 409: "Some gate is closed"},
)
async def start_stream(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    try:
        ctx.controller.start(camera.id, call.actor)
    except GatesClosed as err:
        lang = call.lang
        first = next(c for c in err.report.checks if not c.ok)
        raise ApiError(
            409,
            "gates_closed",
            (first.reason_zh if lang == "zh" else first.reason) or "a gate is closed",
            extra={"closed": err.report.closed, **err.report.to_json(lang)},
        ) from None
    return web.json_response(_status_body(call))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/stop",
    summary="Stop streaming (back to monitoring only)",
    roles=OWNER,
    tag="streaming",
    body=StopBody,
)
async def stop_stream(call: Call) -> web.Response:
    ctx = call.ctx
    camera = call.camera
    body = await call.body(StopBody) if call.request.body_exists else StopBody()
    ctx.controller.stop(camera.id, call.actor, body.reason)
    return web.json_response(_status_body(call))


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/streaming/autostart",
    summary="Let a merchant stream start by itself inside the posted hours (and stop after "
    "them) whenever every gate holds; off again with enabled: false",
    roles=OWNER,
    tag="streaming",
    body=AutoStartBody,
    responses={200: "Saved; the streaming state with its autostart part", 409: "Not merchant"},
)
async def set_autostart(call: Call) -> web.Response:
    body = await call.body(AutoStartBody)
    try:
        call.ctx.live.autostart.set_enabled(call.camera.id, body.enabled, call.actor)
    except AutoStartUnavailable as err:
        zh = "自动开播按商户提示牌所列的直播时间进行，此摄像头的直播类型没有张贴的直播时间"
        reason = zh if call.lang == "zh" else str(err)
        raise ApiError(409, "autostart_unavailable", reason) from None
    return web.json_response(_status_body(call))


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/live",
    summary="May the caller watch this camera now? (what the live player asks first)",
    roles=VIEWERS,
    tag="cameras",
    responses={
        200: "Allowed, with watermark/audio rules, and whether to watch on the relay "
        "(relay: true: get a relay ticket)",
        403: "Refused, with the reason",
        409: "Not streaming now",
    },
)
async def live_access(call: Call) -> web.Response:
    access = call.ctx.watchable(call.principal, call.camera, call.lang)
    relay = call.ctx.live.relay_refusal(call.camera, call.principal, access) is None
    return web.json_response(
        {
            "camera_id": call.camera.id,
            "allowed": True,
            "watermark": access.watermark,
            "audio": access.audio,
            "seconds_left": access.seconds_left,
            "relay": relay,
        }
    )
