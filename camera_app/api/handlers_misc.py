"""Health, the OpenAPI description, the audit log for the owner, and the public notice page."""

from __future__ import annotations

import html
import io
from datetime import datetime

from aiohttp import web

from camera_app.api.context import CTX
from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, PUBLIC, RouteTable
from camera_app.audit import export, verify
from privacy.notice import HEADING_EN, HEADING_ZH, STATEMENT_EN, STATEMENT_ZH

routes = RouteTable()
OPENAPI_KEY = web.AppKey("openapi", dict)


@routes.add("GET", "/api/health", summary="Liveness check", roles=PUBLIC, tag="device")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.add(
    "GET",
    "/api/openapi.json",
    summary="This API's OpenAPI 3.1 description",
    roles=PUBLIC,
    tag="device",
)
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_KEY])


@routes.add(
    "GET", "/api/audit/verify", summary="Check the audit log's hash chain", roles=OWNER, tag="audit"
)
async def audit_verify(request: web.Request) -> web.Response:
    result = verify(request.app[CTX].conn)
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
async def audit_export(request: web.Request) -> web.Response:
    out = io.StringIO()
    export(request.app[CTX].conn, out)
    return web.Response(
        text=out.getvalue(),
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"'},
    )


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/web/notice.css">
</head><body>
<h1>{heading_zh}<br><small>{heading_en}</small></h1>
<p class="state{live_class}">{state}</p>
<dl>{rows}</dl>
<p>{statement_zh}</p><p lang="en">{statement_en}</p>
<p><small>{notice_id}</small></p>
</body></html>
"""


@routes.add(
    "GET",
    "/notice/{notice_id}",
    summary="Public notice page that the QR code on the posted sign opens",
    roles=PUBLIC,
    tag="notice",
    content="text/html",
)
async def notice_page(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    notice = ctx.controller.gates.notice(request.match_info["notice_id"])
    if notice is None:
        raise ApiError(404, "unknown_notice", "no such notice")
    camera = ctx.controller.cameras.get(notice.camera_id)
    live = notice.withdrawn_at is None and ctx.controller.is_live(notice.camera_id)
    if notice.withdrawn_at is not None:
        state = "此提示已被新版本取代 · This notice was replaced by a newer one"
    elif live:
        state = "正在直播 · Streaming live now"
    else:
        state = "当前未在直播 · Not streaming now"
    e = html.escape
    rows = [
        ("运营方 Operator", notice.operator),
        ("用途 Purpose", notice.purpose),
        ("联系方式 Contact", notice.contact),
        ("直播时间 Streaming hours", f"{notice.hours.describe('zh')} / {notice.hours.describe()}"),
        ("摄像头 Camera", camera.name if camera else notice.camera_id),
        (
            "发布日期 Issued",
            datetime.fromtimestamp(notice.created_at, ctx.controller.tz).strftime("%Y-%m-%d"),
        ),
    ]
    page = _PAGE.format(
        title=e(f"{HEADING_ZH} / {HEADING_EN}"),
        heading_zh=e(HEADING_ZH),
        heading_en=e(HEADING_EN),
        live_class=" live" if live else "",
        state=e(state),
        rows="".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows),
        statement_zh=e(STATEMENT_ZH),
        statement_en=e(STATEMENT_EN),
        notice_id=e(f"Notice {notice.id}"),
    )
    return web.Response(text=page, content_type="text/html")
