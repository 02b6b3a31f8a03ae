"""Invites and class-list import on the site (issue 16, bulk onboarding).

Staff make a parent invite (``POST /api/invites``) or a whole class's from a class list
(``/api/import``: the device's checker, :mod:`camera_app.onboarding`, with the rooms the site's
devices publish; all or nothing), print the sheet of QR cards (the device's sheet code; the QR
holds the site's ``/#join=<code>`` link), list the pending invites and withdraw one. A parent
opens the link (or types the code on the page), picks a username and a password, accepts the
viewing terms and is a parent with the invite's grant (``POST /api/invites/redeem``), which
goes to the devices as any other grant. The codes exist only in the answers that made them:
the site keeps their SHA-256 (:mod:`site_app.invites`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Annotated, Literal, TypeVar

from aiohttp import web
from pydantic import Field, StringConstraints

from camera_app.logins import TooManyAttempts
from camera_app.onboarding import ClassList, read_class_list, template_csv
from camera_app.onboarding.importer import end_of_day
from camera_app.onboarding.sheet import InviteCard, invite_link, render_invite_sheet
from camera_app.passwords import PasswordWorkersBusy
from privacy.gates.roles import Role
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION, VIEWING_TERMS
from site_app.accounts import Account, AccountError, Login, SiteRole, prepare_password
from site_app.invites import Invite, InviteRefused, InviteSpec
from site_app.service import SiteService
from site_app.web.server import (
    SERVICE,
    _Body,
    _body,
    _client,
    _error,
    _file,
    _session_response,
    _too_many,
    logged_in,
    page_csp,
)

T = TypeVar("T")

# What browsers and tools call a .csv file (Windows says application/vnd.ms-excel).
_CSV_TYPES = frozenset(
    {"text/csv", "text/plain", "application/vnd.ms-excel", "application/octet-stream"}
)
PAGE_FILES = {
    "import.html": "text/html",
    "import.js": "text/javascript",
    "import.css": "text/css",
    "join.js": "text/javascript",
}

Room = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=40)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class InviteBody(_Body):
    rooms: list[Room] = Field(min_length=1, max_length=8)
    schedule: Schedule
    expires_on: date = Field(description="The last day of access (the site's local date).")
    username: Username | None = Field(default=None, description="Else the parent picks one.")
    family: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    language: Literal["zh-CN", "en"] = "zh-CN"


class CodeBody(_Body):
    code: Code


class RedeemBody(_Body):
    code: Code
    username: Username | None = None
    password: str = Field(min_length=1, max_length=256)
    terms: str = Field(min_length=1, max_length=32, description="The terms version accepted.")


class SheetBody(_Body):
    codes: list[Code] = Field(min_length=1, max_length=200)
    base_url: Annotated[
        str, StringConstraints(pattern=r"^https?://[^\s/?#@]+(/[^\s?#]*)?$", max_length=200)
    ]


def _lang(request: web.Request) -> Literal["en", "zh"]:
    first = request.headers.get("Accept-Language", "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def _local_date(when: float) -> date:
    return datetime.fromtimestamp(when).astimezone().date()


def _invite_json(invite: Invite, lang: Literal["en", "zh"]) -> dict[str, object]:
    return {
        **invite.to_json(),
        "schedule_text": invite.spec.schedule.describe(lang),
        "access_until": _local_date(invite.spec.grant_expires_at).isoformat(),
    }


def _made_json(invite: Invite, code: str, lang: Literal["en", "zh"]) -> dict[str, object]:
    return {**_invite_json(invite, lang), "code": code, "invite_path": f"/#join={code}"}


def _refused(refused: InviteRefused) -> web.Response:
    return _error(refused.status, refused.code, refused.reason)


def open_code(
    request: web.Request, opens: Callable[[], T], *, shared: str | None = None
) -> T | web.Response:
    """What ``opens()`` finds for a code (an invite, a reset link, the setup code), or the
    refusal to send. A code that opens nothing counts against the caller's address as a guess
    (the device's limiter of setup and invite codes: 5 in 15 minutes, then 429; ``shared``: a
    key counted for every address too): 80 random bits cannot be guessed, and the limit keeps a
    flood of guesses from costing the site anything either."""
    try:
        attempt = request.app[SERVICE].limiter.code(_client(request), shared=shared)
    except TooManyAttempts as refused:
        return _too_many(refused)
    try:
        found = opens()
    except InviteRefused as refused:
        return _refused(refused)
    attempt.refund()  # a good code is no guess
    return found


# --- staff: invites one at a time, the pending ones, withdrawing -------------------------------


@logged_in(SiteRole.STAFF)
async def create_invite(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    body = await _body(request, InviteBody)
    known = service.directory.rooms()
    unknown = [room for room in body.rooms if room not in known]
    if unknown:
        return _error(422, "unknown_room", f"no camera of this site films {unknown[0]!r}")
    if body.expires_on < _local_date(service.clock.wall()):
        return _error(422, "date_passed", "the last day of access has passed")
    if body.username is not None and service.invites.username_taken(body.username):
        return _error(409, "username_taken", f"{body.username!r} is taken")
    spec = InviteSpec(
        rooms=tuple(body.rooms),
        schedule=body.schedule,
        grant_expires_at=end_of_day(body.expires_on, _site_zone()),
        username=body.username,
        label=body.family,
        lang="zh" if body.language == "zh-CN" else "en",
    )
    ((invite, code),) = service.invites.create_many([spec], by=login.account)
    return web.json_response(_made_json(invite, code, _lang(request)), status=201)


@logged_in(SiteRole.STAFF)
async def list_invites(request: web.Request, login: Login) -> web.StreamResponse:
    lang = _lang(request)
    return web.json_response(
        [_invite_json(i, lang) for i in request.app[SERVICE].invites.pending()]
    )


@logged_in(SiteRole.STAFF)
async def withdraw_invite(request: web.Request, login: Login) -> web.StreamResponse:
    invite_id = request.match_info["invite_id"]
    if not request.app[SERVICE].invites.withdraw(invite_id, by=login.account):
        return _error(404, "no_such_invite", "no pending invite has this id")
    return web.json_response({"ok": True})


# --- parents: what an invite gives, and joining with it ----------------------------------------


async def preview_invite(request: web.Request) -> web.StreamResponse:
    """What the code gives (rooms, hours, end date, a fixed username), and the viewing terms."""
    service = request.app[SERVICE]
    body = await _body(request, CodeBody)
    invite = open_code(request, lambda: service.invites.usable(body.code))
    if isinstance(invite, web.Response):
        return invite
    english, chinese = VIEWING_TERMS[Role.PARENT]
    spec = invite.spec
    return web.json_response(
        {
            "username": spec.username,
            "rooms": list(spec.rooms),
            "schedule_text": {
                "en": spec.schedule.describe("en"),
                "zh": spec.schedule.describe("zh"),
            },
            "access_until": _local_date(spec.grant_expires_at).isoformat(),
            "expires_at": invite.expires_at,
            "terms": {"version": TERMS_VERSION, "en": english, "zh": chinese},
        }
    )


async def redeem_invite(request: web.Request) -> web.StreamResponse:
    """The parent's account from the code: their username (or the invite's) and password, the
    terms accepted; logged in at once (the cookie), their grant sent to the devices."""
    service = request.app[SERVICE]
    body = await _body(request, RedeemBody)
    if body.terms != TERMS_VERSION:
        return _error(409, "terms_changed", "the terms changed: read them again")
    invite = open_code(request, lambda: service.invites.usable(body.code))
    if isinstance(invite, web.Response):
        return invite
    fixed = invite.spec.username
    if fixed is not None and body.username not in (None, fixed):
        return _error(422, "username_fixed", f"this invite is for the username {fixed!r}")
    username = fixed or body.username
    if username is None:
        return _error(422, "username_required", "choose a username")
    if fixed is None and service.invites.username_taken(username):
        return _error(409, "username_taken", f"{username!r} is taken; choose another")
    hashed = await new_password_hash(service, username, body.password)
    if isinstance(hashed, web.Response):
        return hashed
    # no await from here: the code is burnt and the account made in one transaction
    try:
        account = service.invites.redeem(body.code, username, hashed, TERMS_VERSION)
    except InviteRefused as refused:
        return _refused(refused)
    service.sync_all()
    return logged_in_now(request, service, account, status=201)


async def new_password_hash(
    service: SiteService, username: str, password: str
) -> str | web.Response:
    """The hash of a password someone chose (joining, or with a reset link), made off the loop
    under the devices' rules; or the refusal to send (422 bad_password, 503 busy)."""
    try:
        return await asyncio.wrap_future(
            service.passwords.submit(prepare_password, username, password)
        )
    except AccountError as err:
        return _error(422, "bad_password", str(err))
    except PasswordWorkersBusy:
        return _error(503, "busy", "too many at once; try again in a moment")


def logged_in_now(
    request: web.Request, service: SiteService, account: Account, status: int = 200
) -> web.Response:
    """A new login of ``account`` (who just set their password), token and cookie."""
    token, login = service.accounts.log_in(account)
    answer: dict[str, object] = {
        "token": token,
        "username": account.username,
        "role": account.role,
        "expires_at": login.expires_at,
    }
    return _session_response(request, token, answer, status=status)


# --- staff: a class list ------------------------------------------------------------------------


def _site_zone() -> tzinfo:
    """The site host's zone: a class list's end date ends at midnight there."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


async def _class_list(request: web.Request, service: SiteService) -> ClassList:
    if request.content_type not in _CSV_TYPES:
        raise web.HTTPUnsupportedMediaType(
            text='{"error": "unsupported_media_type", "reason": "send the class list as text/csv"}',
            content_type="application/json",
        )
    data = await request.read()
    rooms = set(service.directory.rooms())
    if not rooms:
        raise web.HTTPUnprocessableEntity(
            text='{"error": "no_room", "reason": "no device of this site publishes a room yet"}',
            content_type="application/json",
        )
    return read_class_list(
        data,
        rooms=rooms,
        schedules=service.config.onboarding.schedules,
        taken=service.invites.username_taken,
        today=_local_date(service.clock.wall()),
        default_lang=_lang(request),
        username_required=False,
    )


@logged_in(SiteRole.STAFF)
async def class_list_template(request: web.Request, login: Login) -> web.StreamResponse:
    lang = request.query.get("lang") or _lang(request)
    name = "class-list-zh.csv" if lang == "zh" else "class-list.csv"
    return web.Response(
        body=template_csv(lang),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@logged_in(SiteRole.STAFF)
async def preview_class_list(request: web.Request, login: Login) -> web.StreamResponse:
    """Every family the file would invite and every problem (line, column, reason); no change."""
    service = request.app[SERVICE]
    class_list = await _class_list(request, service)
    return web.json_response(class_list.to_json(_lang(request)))


@logged_in(SiteRole.STAFF)
async def import_class_list(request: web.Request, login: Login) -> web.StreamResponse:
    """One invite per family, all in one transaction, or none when any row has a problem."""
    service = request.app[SERVICE]
    lang = _lang(request)
    class_list = await _class_list(request, service)
    if not class_list.ok:
        return web.json_response(
            {
                "error": "invalid_class_list",
                "reason": "the class list has problems; nothing was imported",
                **class_list.to_json(lang),
            },
            status=422,
        )
    zone = _site_zone()
    specs = [
        InviteSpec(
            rooms=f.rooms,
            schedule=f.schedule,
            grant_expires_at=end_of_day(f.expires_on, zone),
            username=f.username,
            label=f.label,
            lang=f.lang,
        )
        for f in class_list.families
    ]
    facts = {
        "encoding": class_list.encoding,
        "rooms": sorted({room for f in class_list.families for room in f.rooms}),
    }
    made = service.invites.create_many(specs, by=login.account, imported=facts)
    return web.json_response(
        {
            "imported": len(made),
            "batch": made[0][0].batch,
            "encoding": class_list.encoding,
            "invites": [_made_json(invite, code, lang) for invite, code in made],
        },
        status=201,
    )


@logged_in(SiteRole.STAFF)
async def invite_sheet(request: web.Request, login: Login) -> web.StreamResponse:
    """The PDF of invite cards for pending invites (their codes, as the import gave them)."""
    service = request.app[SERVICE]
    body = await _body(request, SheetBody)
    cards = []
    for index, code in enumerate(body.codes):
        try:
            invite = service.invites.usable(code)
        except InviteRefused:
            return web.json_response(
                {
                    "error": "unknown_invite",
                    "reason": f"codes[{index}]: not a pending invite (used, withdrawn or expired)",
                    "index": index,
                },
                status=422,
            )
        spec = invite.spec
        cards.append(
            InviteCard(
                label=spec.label,
                username=spec.username,
                rooms=spec.rooms,
                hours=spec.schedule.describe(spec.lang),
                access_until=_local_date(spec.grant_expires_at),
                join_by=_local_date(invite.expires_at),
                link=invite_link(body.base_url, code),
                code=code,
                lang=spec.lang,
            )
        )
    try:
        pdf = await asyncio.get_running_loop().run_in_executor(
            None, lambda: render_invite_sheet(cards, title="邀请卡 / Invite cards")
        )
    except ValueError as err:
        return _error(422, "unprintable", str(err))
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": 'attachment; filename="invites.pdf"',
            "Cache-Control": "no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    """Register the invite and import routes and the import page's files on the site's app."""
    app.router.add_post("/api/invites", create_invite)
    app.router.add_get("/api/invites", list_invites)
    app.router.add_delete("/api/invites/{invite_id}", withdraw_invite)
    app.router.add_post("/api/invites/preview", preview_invite)
    app.router.add_post("/api/invites/redeem", redeem_invite)
    app.router.add_get("/api/import/template.csv", class_list_template)
    app.router.add_post("/api/import/preview", preview_class_list)
    app.router.add_post("/api/import", import_class_list)
    app.router.add_post("/api/import/sheet", invite_sheet)
    csp = page_csp(app[SERVICE].config.http.relay_origin)
    for name, kind in PAGE_FILES.items():
        app.router.add_get(f"/{name}", _file(name, "site_app.web", kind, csp))
