"""The audit log for the owner: a page of records to read in the app (filtered, newest first),
the event names to filter by, the full export (JSON Lines) and the hash-chain check."""

from __future__ import annotations

import asyncio
import io

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.handlers_events import number_param, page_query
from camera_app.api.routes import OWNER, Call, RouteTable
from privacy.audit import MAX_PAGE, AuditEvent, export_file, page, verify_file

routes = RouteTable()

DEFAULT_PAGE = 50


def _limit(call: Call) -> int:
    raw = call.request.query.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(422, "invalid_input", f"limit: a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def _event(call: Call) -> AuditEvent | None:
    raw = call.request.query.get("event") or None
    if raw is None:
        return None
    try:
        return AuditEvent(raw)
    except ValueError:
        raise ApiError(
            422, "invalid_input", "event: not an audit event (see /api/audit/event-types)"
        ) from None


@routes.add(
    "GET",
    "/api/audit/events",
    summary="Audit records, newest first; query: event, actor (exact), since, until (unix s), "
    f"limit (1-{MAX_PAGE}, default {DEFAULT_PAGE}), cursor (from the previous page)",
    roles=OWNER,
    tag="audit",
    query={
        "event": {"type": "string", "description": "One audit event name"},
        "actor": {"type": "string", "maxLength": 200, "description": "Who acted (exact)"},
        **page_query(MAX_PAGE, DEFAULT_PAGE),
    },
)
async def audit_events(call: Call) -> web.Response:
    query = call.request.query
    actor = query.get("actor") or None
    if actor is not None and len(actor) > 200:
        raise ApiError(422, "invalid_input", "actor: at most 200 characters")
    try:
        result = page(
            call.ctx.conn,
            event=_event(call),
            actor=actor,
            since=number_param(call, "since"),
            until=number_param(call, "until"),
            limit=_limit(call),
            cursor=query.get("cursor") or None,
        )
    except ValueError as err:
        raise ApiError(422, "invalid_input", str(err)) from None
    return web.json_response(
        {
            "records": [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "event": r.event,
                    "actor": r.actor,
                    "camera_id": r.camera_id,
                    "details": r.details,
                }
                for r in result.records
            ],
            "cursor": result.cursor,
        }
    )


@routes.add(
    "GET",
    "/api/audit/event-types",
    summary="Every audit event name, for a filter",
    roles=OWNER,
    tag="audit",
)
async def audit_event_types(call: Call) -> web.Response:
    return web.json_response(sorted(e.value for e in AuditEvent))


@routes.add(
    "GET", "/api/audit/verify", summary="Check the audit log's hash chain", roles=OWNER, tag="audit"
)
async def audit_verify(call: Call) -> web.Response:
    result = await asyncio.to_thread(verify_file, call.ctx.paths.database)
    return web.json_response(
        {"ok": result.ok, "records": result.records, "problems": result.problems}
    )


@routes.add(
    "GET",
    "/api/audit",
    summary="Export the audit log (JSON Lines, oldest first)",
    roles=OWNER,
    tag="audit",
    content="application/x-ndjson",
)
async def audit_export(call: Call) -> web.Response:
    out = io.StringIO()
    await asyncio.to_thread(export_file, call.ctx.paths.database, out)
    return web.Response(
        text=out.getvalue(),
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )
