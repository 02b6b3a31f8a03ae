"""Arming and disarming monitoring, and the device's health (owner only; other roles get 404)."""

from __future__ import annotations

import asyncio
from functools import partial

import cv2
from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.monitor.control import MonitoringControl
from camera_app.tokens import Scope
from privacy.audit import AuditEvent

routes = RouteTable()


def _control(call: Call) -> MonitoringControl:
    if call.ctx.monitoring is None:
        raise ApiError(503, "monitoring_unavailable", "monitoring does not run in this process")
    return call.ctx.monitoring


def _armed(call: Call, armed: bool) -> web.Response:
    control = _control(call)
    control.set_armed(armed, actor=call.actor)
    return web.json_response({"camera_id": call.camera.id, "armed": control.armed})


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/arm",
    summary="Arm monitoring: motion starts events and recordings again (audited)",
    roles=OWNER,
    tag="device",
    hidden=True,
    scope=Scope.MONITORING_ARM,
    responses={200: "Armed", 503: "Monitoring does not run in this process"},
)
async def arm(call: Call) -> web.Response:
    return _armed(call, True)


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/disarm",
    summary="Disarm monitoring (e.g. while at home): an open event ends, none starts (audited)",
    roles=OWNER,
    tag="device",
    hidden=True,
    scope=Scope.MONITORING_ARM,
    responses={200: "Disarmed", 503: "Monitoring does not run in this process"},
)
async def disarm(call: Call) -> web.Response:
    return _armed(call, False)


@routes.add(
    "GET",
    "/api/device/health",
    summary="Frame rate and losses (the slowest camera's rate and the sums, and each camera's "
    "under cameras, with the reason a camera stopped), recordings and disk, temperature, "
    "uptime, versions of the app and its models, whether monitoring is armed",
    roles=OWNER,
    tag="device",
    hidden=True,
    scope=Scope.DEVICE_READ,
    responses={200: "The device's health", 503: "Monitoring does not run in this process"},
)
async def device_health(call: Call) -> web.Response:
    ctx = call.ctx
    if ctx.health is None:
        raise ApiError(503, "monitoring_unavailable", "monitoring does not run in this process")
    armed = ctx.monitoring.armed if ctx.monitoring is not None else None
    return web.json_response({**ctx.health.report(ctx.conn), "armed": armed})


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/preview.jpg",
    summary="The camera's picture now, as recordings show it (static privacy masks burned in), "
    "for drawing masks; not recorded, audited",
    roles=OWNER,
    tag="device",
    hidden=True,
    content="image/jpeg",
    responses={200: "JPEG", 503: "No picture yet"},
)
async def preview(call: Call) -> web.Response:
    ctx = call.ctx
    picture = ctx.picture(call.camera.id)
    frame = picture.get() if picture is not None else None
    if frame is None:
        raise ApiError(503, "no_picture", "the camera has not delivered a picture yet")
    loop = asyncio.get_running_loop()
    ok, jpeg = await loop.run_in_executor(
        None, partial(cv2.imencode, ".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    )
    if not ok:
        raise ApiError(500, "encode_failed", "the picture could not be encoded")
    ctx.audit.append(AuditEvent.PREVIEW_VIEWED, actor=call.actor, camera_id=call.camera.id)
    return web.Response(body=jpeg.tobytes(), content_type="image/jpeg")
