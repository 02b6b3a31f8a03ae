"""Arming and disarming monitoring, and the device's health (owner only; other roles get 404)."""

from __future__ import annotations

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.monitor.control import MonitoringControl
from camera_app.tokens import Scope

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
)
async def disarm(call: Call) -> web.Response:
    return _armed(call, False)


@routes.add(
    "GET",
    "/api/device/health",
    summary="Frame rate and losses, recordings and disk, temperature, uptime, versions of the "
    "app and its models, whether monitoring is armed",
    roles=OWNER,
    tag="device",
    hidden=True,
    scope=Scope.DEVICE_READ,
)
async def device_health(call: Call) -> web.Response:
    ctx = call.ctx
    if ctx.health is None:
        raise ApiError(503, "monitoring_unavailable", "monitoring does not run in this process")
    armed = ctx.monitoring.armed if ctx.monitoring is not None else None
    return web.json_response({**ctx.health.report(ctx.conn), "armed": armed})
