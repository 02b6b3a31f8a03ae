"""Bulk onboarding (owner only): a kindergarten's class list checked, imported as parent
invitations, and printed as a sheet of invite cards. The logic is :mod:`camera_app.onboarding`;
these handlers only carry bytes in and out."""

from __future__ import annotations

import asyncio
from datetime import datetime

from aiohttp import web

from camera_app import accounts
from camera_app.api.context import ApiContext
from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.api.schemas import InviteSheetBody
from camera_app.onboarding import (
    ClassList,
    ImportRefused,
    import_class_list,
    read_class_list,
    template_csv,
)
from camera_app.onboarding.classlist import Lang
from camera_app.onboarding.sheet import InviteCard, invite_link, render_invite_sheet
from privacy.gates.roles import Profile
from privacy.gates.viewers import INVITE_TTL_S

routes = RouteTable()

# What browsers and tools call a .csv file (Windows says application/vnd.ms-excel).
_CSV_TYPES = frozenset(
    {"text/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"}
)
_CSV_HELP = (
    "The body is the class list file itself (UTF-8 or GB18030), columns family, username, "
    "rooms, schedule, expires_on, language (or 家庭, 用户名, 教室, 观看时段, 截止日期, 语言); "
    "see docs/onboarding.md"
)


async def _class_list(call: Call) -> ClassList:
    """The request's class list, checked against this device (rooms of its kindergarten
    cameras, usernames in use, the school's named schedules, today's date)."""
    ctx = call.ctx
    if call.request.content_type not in _CSV_TYPES:
        raise ApiError(415, "unsupported_media_type", "send the class list as text/csv")
    data = await call.request.read()
    rooms = _kindergarten_rooms(ctx)
    if not rooms:
        raise ApiError(
            422,
            "no_kindergarten_room",
            "no kindergarten camera of this device names a room; set camera.room and the "
            "kindergarten profile first",
        )
    today = datetime.fromtimestamp(ctx.clock.wall(), ctx.controller.tz).date()
    return read_class_list(
        data,
        rooms=rooms,
        schedules=ctx.config.onboarding.schedules,
        taken=lambda username: _taken(ctx, username),
        today=today,
        default_lang=call.lang,
    )


def _kindergarten_rooms(ctx: ApiContext) -> set[str]:
    return {
        c.room
        for c in ctx.controller.cameras.values()
        if c.room and c.profile == Profile.KINDERGARTEN
    }


def _taken(ctx: ApiContext, username: str) -> bool:
    return accounts.username_taken(ctx.conn, username) or (
        ctx.controller.viewers.by_username(username) is not None
    )


def _key(lang: str) -> Lang:
    return "zh" if lang == "zh" else "en"


@routes.add(
    "GET",
    "/api/onboarding/template.csv",
    summary="The class list template (CSV, UTF-8 with BOM) with English or Chinese headers; "
    "query: lang",
    roles=OWNER,
    tag="onboarding",
    content="text/csv",
    query={"lang": {"type": "string", "enum": ["en", "zh"], "description": "Header language"}},
)
async def class_list_template(call: Call) -> web.Response:
    lang = call.request.query.get("lang") or call.lang
    name = "class-list-zh.csv" if lang == "zh" else "class-list.csv"
    return web.Response(
        body=template_csv(lang),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.add(
    "POST",
    "/api/onboarding/preview",
    summary="Check a class list without importing anything: every family it would invite and "
    "every problem, each with its line and column (messages in the Accept-Language)",
    roles=OWNER,
    tag="onboarding",
    accepts="text/csv",
    responses={
        200: "The families and the problems (ok: importable as it is)",
        422: "No kindergarten camera of this device names a room (no_kindergarten_room)",
    },
)
async def preview_class_list(call: Call) -> web.Response:
    class_list = await _class_list(call)
    return web.json_response(class_list.to_json(call.lang))


@routes.add(
    "POST",
    "/api/onboarding/import",
    summary="Import a class list: every family invited as a parent (watermarked, their rooms, "
    "schedule and end date), all or none, audited; returns each one-time invite code (shown "
    f"once). {_CSV_HELP}",
    roles=OWNER,
    tag="onboarding",
    accepts="text/csv",
    responses={
        201: "Imported; the invitations with their codes, invite_path (/#join=<code>) and, "
        "with streaming.public_url, invite_url",
        409: "A username was taken meanwhile; nothing was imported",
        422: "The class list has problems (invalid_class_list, with problems), or no "
        "kindergarten camera names a room; nothing was imported",
    },
)
async def import_class_list_route(call: Call) -> web.Response:
    ctx = call.ctx
    class_list = await _class_list(call)
    if not class_list.ok:
        raise ApiError(
            422,
            "invalid_class_list",
            "the class list has problems; nothing was imported",
            extra=class_list.to_json(call.lang),
        )
    try:
        issued = import_class_list(
            class_list, ctx.controller.viewers, ctx.controller.tz, actor=call.actor
        )
    except ImportRefused as err:
        raise ApiError(409, "username_taken", str(err)) from None
    key = _key(call.lang)
    public_url = ctx.config.streaming.public_url
    return web.json_response(
        {
            "imported": len(issued),
            "invites": [
                {
                    **invite.viewer.to_json(),
                    "family": invite.family.label,
                    "language": "zh-CN" if invite.family.lang == "zh" else "en",
                    "schedule_text": invite.family.schedule.describe(key),
                    "expires_on": invite.family.expires_on.isoformat(),
                    "code": invite.code,
                    "code_expires_at": invite.code_expires_at,
                    "invite_path": f"/#join={invite.code}",
                    # the link the sheet prints when the device has a public address
                    "invite_url": invite_link(public_url, invite.code) if public_url else None,
                }
                for invite in issued
            ],
        },
        status=201,
    )


@routes.add(
    "POST",
    "/api/onboarding/sheet",
    summary="The printable invite sheet (PDF, one card per family in its language: QR code of "
    "the invite link, the code typed out, room, hours, end date, how to join) for pending "
    "invitations; the link's address is streaming.public_url, else base_url",
    roles=OWNER,
    tag="onboarding",
    body=InviteSheetBody,
    content="application/pdf",
    responses={
        200: "The sheet (PDF)",
        422: "An invitation is unknown, used or revoked (unknown_invite, with its index), no "
        "address for the links, or a text the sheet cannot print",
    },
)
async def invite_sheet(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(InviteSheetBody)
    base_url = ctx.config.streaming.public_url or body.base_url
    if base_url is None:
        raise ApiError(
            422,
            "invalid_input",
            "base_url: the address parents open is needed (or set streaming.public_url)",
        )
    tz = ctx.controller.tz
    cards = []
    for index, item in enumerate(body.invites):
        viewer = ctx.controller.viewers.pending_invite(item.code)
        if viewer is None or viewer.schedule is None or viewer.expires_at is None:
            raise ApiError(
                422,
                "unknown_invite",
                f"invites[{index}]: not a pending parent invitation (used, revoked or expired)",
                extra={"index": index},
            )
        lang = _key("zh" if item.language == "zh-CN" else "en")
        cards.append(
            InviteCard(
                label=item.family,
                username=viewer.username,
                rooms=viewer.rooms,
                hours=viewer.schedule.describe(lang),
                access_until=datetime.fromtimestamp(viewer.expires_at, tz).date(),
                join_by=datetime.fromtimestamp(viewer.invited_at + INVITE_TTL_S, tz).date(),
                link=invite_link(base_url, item.code),
                code=item.code,
                lang=lang,
            )
        )
    title = "邀请卡 / Invite cards"
    try:
        pdf = await asyncio.get_running_loop().run_in_executor(
            None, lambda: render_invite_sheet(cards, title=title)
        )
    except ValueError as err:
        raise ApiError(422, "invalid_input", str(err)) from None
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="invites.pdf"',
            "Cache-Control": "no-store",
        },
    )
