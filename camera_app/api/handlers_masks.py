"""The owner's privacy masks and motion masks: shown, previewed on the camera's picture, and saved
(into the data directory, over the config file's at every start) to take effect at once (owner
only; other roles get 404)."""

from __future__ import annotations

import asyncio
from typing import Any

import cv2
from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.api.schemas import MaskPolygon, MasksBody
from camera_app.masks import MAX_MASKS, MAX_POINTS, MaskError, Masks, MaskSettings, render_preview
from firmware.configbase import NamedPolygon
from privacy.audit import AuditEvent

routes = RouteTable()

_REFUSED = {
    "masks_not_writable": 409,
    "invalid_config": 422,
}


def _settings(call: Call) -> MaskSettings:
    every = call.ctx.masks
    if every is None:
        raise ApiError(503, "monitoring_unavailable", "monitoring does not run in this process")
    settings = every.get(call.camera.id)
    if settings is None:
        raise ApiError(
            404, "unknown_camera", f"no masks are kept for camera {call.camera.id!r} here"
        )
    return settings


def _polygons(polygons: list[MaskPolygon]) -> tuple[NamedPolygon, ...]:
    return tuple(NamedPolygon(name=p.name, points=p.points) for p in polygons)


def _proposed(body: MasksBody, current: Masks) -> Masks:
    return Masks(
        privacy=_polygons(body.privacy_masks),
        motion=_polygons(body.motion_masks),
        color=body.color_bgr if body.color_bgr is not None else current.color,
    )


def _polygon_json(polygon: NamedPolygon) -> dict[str, Any]:
    return {"name": polygon.name, "points": [list(p) for p in polygon.points]}


def _describe(call: Call, settings: MaskSettings) -> dict[str, Any]:
    masks = settings.current
    picture = call.ctx.picture(call.camera.id)
    frame = picture.get() if picture is not None else None
    if frame is not None:
        width, height = frame.width, frame.height
    else:
        capture = call.ctx.config.view(settings.camera_id).capture
        width, height = capture.width, capture.height
    return {
        "camera_id": call.camera.id,
        "privacy_masks": [_polygon_json(p) for p in masks.privacy],
        "motion_masks": [_polygon_json(p) for p in masks.motion],
        "color_bgr": list(masks.color),
        "frame": {"width": width, "height": height},
        "limits": {"masks": MAX_MASKS, "points": MAX_POINTS},
        "editable": settings.editable,
    }


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/masks",
    summary="The privacy masks (filled at capture) and motion masks (no events there), as "
    "polygons in 0..1 frame coordinates, with the fill colour and the frame size",
    roles=OWNER,
    tag="device",
    hidden=True,
)
async def get_masks(call: Call) -> web.Response:
    return web.json_response(_describe(call, _settings(call)))


@routes.add(
    "PUT",
    "/api/cameras/{camera_id}/masks",
    summary="Save both mask lists (validated; written atomically to owner-masks.yaml in the "
    "data directory, which replaces the config file's masks at every start, so the config "
    "file is never written; audited config_changed) and put them in force at once",
    roles=OWNER,
    tag="device",
    hidden=True,
    body=MasksBody,
    responses={
        200: "Saved and in force (changed: the config sections that changed)",
        409: "The data directory cannot be written (masks_not_writable)",
    },
)
async def put_masks(call: Call) -> web.Response:
    settings = _settings(call)
    body = await call.body(MasksBody)
    try:
        changed = settings.save(_proposed(body, settings.current), actor=call.actor)
    except MaskError as err:
        raise ApiError(_REFUSED.get(err.code, 409), err.code, err.reason) from None
    return web.json_response({**_describe(call, settings), "changed": changed})


@routes.add(
    "POST",
    "/api/cameras/{camera_id}/masks/preview",
    summary="The camera's picture now (as recorded: the masks in force are already burned in) "
    "with the proposed privacy masks burned in as recordings will have them and the motion "
    "masks outlined; nothing is saved; audited",
    roles=OWNER,
    tag="device",
    hidden=True,
    body=MasksBody,
    content="image/jpeg",
    responses={200: "JPEG", 503: "No picture yet"},
)
async def preview_masks(call: Call) -> web.Response:
    ctx = call.ctx
    settings = _settings(call)
    body = await call.body(MasksBody)
    picture = ctx.picture(call.camera.id)
    frame = picture.get() if picture is not None else None
    if frame is None:
        raise ApiError(503, "no_picture", "the camera has not delivered a picture yet")
    masks = _proposed(body, settings.current)

    def encode() -> tuple[bool, Any]:
        image = render_preview(frame.image, masks)
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])

    ok, jpeg = await asyncio.get_running_loop().run_in_executor(None, encode)
    if not ok:
        raise ApiError(500, "encode_failed", "the picture could not be encoded")
    ctx.audit.append(
        AuditEvent.PREVIEW_VIEWED,
        actor=call.actor,
        camera_id=call.camera.id,
        details={"masks": "proposed"},
    )
    return web.Response(body=jpeg.tobytes(), content_type="image/jpeg")
