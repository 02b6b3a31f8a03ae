"""Health, the OpenAPI description and update status for the owner, and the public notice page
(which also shows the models in use and any announced change to them)."""

from __future__ import annotations

import html
from datetime import datetime, tzinfo

from aiohttp import web

from camera_app.accounts import has_owner
from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, PUBLIC, Call, RouteTable
from camera_app.update.status import UpdateStatus, load_update_status
from privacy.notice_sign import HEADING_EN, HEADING_ZH, PrivacyStatement

routes = RouteTable()
OPENAPI_KEY = web.AppKey("openapi", dict)


@routes.add(
    "GET",
    "/api/health",
    summary="Liveness check; setup_needed is true until the owner account exists",
    roles=PUBLIC,
    tag="device",
)
async def health(call: Call) -> web.Response:
    # Telling anyone that the device has no owner yet reveals little: the setup still needs the
    # one-time code from the console. The web app uses it to show setup instead of a login.
    return web.json_response({"status": "ok", "setup_needed": not has_owner(call.ctx.conn)})


@routes.add(
    "GET",
    "/api/openapi.json",
    summary="This API's OpenAPI 3.1 description",
    roles=PUBLIC,
    tag="device",
)
async def openapi_json(call: Call) -> web.Response:
    return web.json_response(call.request.app[OPENAPI_KEY])


@routes.add(
    "GET",
    "/api/update",
    summary="Software and model versions: running, announced (with its notice period), last result",
    roles=OWNER,
    tag="device",
)
async def update_status(call: Call) -> web.Response:
    ctx = call.ctx
    return web.json_response(load_update_status(ctx.paths.root).to_json())


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


def _model_rows(status: UpdateStatus, tz: tzinfo) -> list[tuple[str, str]]:
    """The face models this device runs, and an announced change to them: people in view can
    see what redacts them and that no model is swapped without notice."""
    models = ", ".join(
        f"{name} {m.version or ''} ({m.sha256[:12]})".replace("  ", " ")
        for name, m in sorted(status.current_models.items())
    )
    rows = [("软件与模型 Software and models", f"{status.current_version}: {models or '-'}")]
    pending = status.pending
    if pending is not None:
        when = pending.not_before.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        changes = ", ".join(pending.changes_behaviour) or "-"
        changed = ", ".join(pending.models_changed) or "-"
        rows.append(
            (
                "计划变更 Announced change",
                f"{pending.version}: {changes}; 模型 models {changed}; 最早生效 not before {when}",
            )
        )
    return rows


@routes.add(
    "GET",
    "/notice/{notice_id}",
    summary="Public notice page that the QR code on the posted sign opens",
    roles=PUBLIC,
    tag="notice",
    content="text/html",
)
async def notice_page(call: Call) -> web.Response:
    ctx = call.ctx
    notice = ctx.controller.gates.notice(call.param("notice_id"))
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
    rows += _model_rows(load_update_status(ctx.paths.root), ctx.controller.tz)
    statement = PrivacyStatement(ctx.config.privacy.method, ctx.config.storage.retention_days)
    page = _PAGE.format(
        title=e(f"{HEADING_ZH} / {HEADING_EN}"),
        heading_zh=e(HEADING_ZH),
        heading_en=e(HEADING_EN),
        live_class=" live" if live else "",
        state=e(state),
        rows="".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows),
        statement_zh=e(statement.zh()),
        statement_en=e(statement.en()),
        notice_id=e(f"Notice {notice.id}"),
    )
    return web.Response(text=page, content_type="text/html")
