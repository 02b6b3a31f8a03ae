"""The owner's recordings: motion events, their snapshots and clips (HTTP Range, so the browser
seeks), deletion. The owner's, and a family viewer's for the cameras the owner granted them
(``camera_app.monitor.grants``); anyone else, any other camera, and a family viewer's delete get
404, as for an unknown id (404 rather than 403 for the delete too: a viewer learns nothing from
the answer, not even that the event exists). Every picture or clip served and every deletion is
audited by ``camera_app.monitor.recordings``, with the caller's name."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, RECORDING_READERS, Call, RouteTable
from camera_app.monitor.recordings import MAX_PAGE, RecordingError
from camera_app.monitor.store import EventRecord
from camera_app.tokens import Scope

routes = RouteTable()

_HIDDEN_PATHS = ("clip_path", "snapshot_path")


def event_json(event: EventRecord) -> dict[str, Any]:
    """An event as the app shows it: file locations as API URLs, never paths on the device."""
    body = {k: v for k, v in event.to_json().items() if k not in _HIDDEN_PATHS}
    body["snapshot_url"] = f"/api/events/{event.id}/snapshot.jpg" if event.snapshot_path else None
    body["clip_url"] = f"/api/events/{event.id}/clip.mp4" if event.clip_path else None
    return body


def _refused(err: RecordingError) -> ApiError:
    status = 409 if err.code == "recording" else 404
    return ApiError(status, err.code, err.reason)


def number_param(call: Call, name: str) -> float | None:
    raw = call.request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(422, "invalid_input", f"{name}: a unix time in seconds") from None
    if not math.isfinite(value):
        raise ApiError(422, "invalid_input", f"{name}: a unix time in seconds")
    return value


def page_query(max_page: int, default: int) -> dict[str, dict[str, Any]]:
    """The query parameters of a page of records, newest first, for the OpenAPI description."""
    return {
        "since": {"type": "number", "description": "From this unix time (s)"},
        "until": {"type": "number", "description": "Before this unix time (s)"},
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": max_page,
            "default": default,
            "description": "Records per page",
        },
        "cursor": {"type": "string", "description": "The previous page's cursor"},
    }


DOWNLOAD_QUERY: dict[str, dict[str, Any]] = {
    "download": {"type": "string", "enum": ["1"], "description": "1: save it as a file"}
}


def _limit(call: Call) -> int:
    raw = call.request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(422, "invalid_input", f"limit: a whole number from 1 to {MAX_PAGE}")
    return int(raw)


@routes.add(
    "GET",
    "/api/cameras/{camera_id}/events",
    summary="Motion events of a camera, newest first; query: since, until (unix s), limit "
    f"(1-{MAX_PAGE}, default 50), cursor (from the previous page)",
    roles=RECORDING_READERS,
    tag="recordings",
    hidden=True,
    recordings=True,
    scope=Scope.EVENTS_READ,
    query=page_query(MAX_PAGE, 50),
)
async def list_events(call: Call) -> web.Response:
    try:
        page = call.ctx.recordings.page(
            call.camera.id,
            limit=_limit(call),
            since=number_param(call, "since"),
            until=number_param(call, "until"),
            cursor=call.request.query.get("cursor") or None,
        )
    except ValueError as err:
        raise ApiError(422, "invalid_input", str(err)) from None
    return web.json_response(
        {"events": [event_json(e) for e in page.events], "cursor": page.cursor}
    )


@routes.add(
    "GET",
    "/api/events/{event_id}",
    summary="One motion event",
    roles=RECORDING_READERS,
    tag="recordings",
    hidden=True,
    recordings=True,
    scope=Scope.EVENTS_READ,
    responses={200: "The event", 404: "No such event"},
)
async def get_event(call: Call) -> web.Response:
    try:
        event = call.ctx.recordings.get(
            call.param("event_id"), within=call.ctx.recording_cameras(call.principal)
        )
    except RecordingError as err:
        raise _refused(err) from None
    return web.json_response(event_json(event))


async def _file(call: Call, kind: str, content_type: str) -> web.StreamResponse:
    try:
        event, path = call.ctx.recordings.open_file(
            call.param("event_id"),
            "clip" if kind == "clip" else "snapshot",
            actor=call.actor,
            within=call.ctx.recording_cameras(call.principal),
        )
    except RecordingError as err:
        raise _refused(err) from None
    suffix = "mp4" if kind == "clip" else "jpg"
    disposition = "attachment" if call.request.query.get("download") == "1" else "inline"
    # aiohttp's FileResponse answers Range requests (206, Content-Range; 416 when unsatisfiable)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'{disposition}; filename="{event.id}.{suffix}"',
        },
    )


@routes.add(
    "GET",
    "/api/events/{event_id}/snapshot.jpg",
    summary="The event's snapshot (audited)",
    roles=RECORDING_READERS,
    tag="recordings",
    hidden=True,
    recordings=True,
    scope=Scope.EVENTS_READ,
    content="image/jpeg",
    responses={200: "JPEG", 404: "No such event or no snapshot"},
    query=DOWNLOAD_QUERY,
)
async def event_snapshot(call: Call) -> web.StreamResponse:
    return await _file(call, "snapshot", "image/jpeg")


@routes.add(
    "GET",
    "/api/events/{event_id}/clip.mp4",
    summary="The event's clip; HTTP Range for seeking; ?download=1 to save it (audited)",
    roles=RECORDING_READERS,
    tag="recordings",
    hidden=True,
    recordings=True,
    scope=Scope.EVENTS_READ,
    content="video/mp4",
    responses={
        200: "MP4",
        206: "The requested byte range",
        404: "No such event or no clip",
        416: "Range not satisfiable",
    },
    query=DOWNLOAD_QUERY,
)
async def event_clip(call: Call) -> web.StreamResponse:
    return await _file(call, "clip", "video/mp4")


@routes.add(
    "DELETE",
    "/api/events/{event_id}",
    summary="Delete an event with its clip and snapshot (audited); the owner's alone",
    roles=OWNER,
    tag="recordings",
    hidden=True,
    responses={200: "Deleted", 404: "No such event", 409: "Still being recorded"},
)
async def delete_event(call: Call) -> web.Response:
    try:
        event = call.ctx.recordings.delete(call.param("event_id"), actor=call.actor)
    except RecordingError as err:
        raise _refused(err) from None
    return web.json_response({"deleted": event.id})
