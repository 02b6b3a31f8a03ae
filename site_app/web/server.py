"""The site's HTTP API and its page (aiohttp).

A login is a bearer token, also set as an HttpOnly cookie for the page. Parents see the cameras
that film their rooms and get a relay ticket for one from the device that films it
(``POST /api/watch/{device}/{camera}``: the answer has the shape of the device's own
``/api/cameras/{id}/relay-ticket``, so the page reuses the owner app's ``whep.js`` to play it
from the relay and renew it). Staff manage accounts and grants and see the devices.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import ssl
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from camera_app.api.guards import cross_site_refusal
from camera_app.logins import TooManyAttempts
from camera_app.passwords import PasswordWorkersBusy
from privacy.audit import AuditEvent, AuditRecord, page
from privacy.gates.roles import Role
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION, VIEWING_TERMS
from site_app.accounts import (
    Account,
    AccountError,
    Login,
    SiteRole,
    password_matches,
    prepare_password,
)
from site_app.broker import DeviceUnreachable
from site_app.db import export_site_log, verify_site_log
from site_app.forwarded import client_address, from_trusted_proxy
from site_app.grants import grant_on_devices
from site_app.pauses import MAX_PAUSE_MINUTES
from site_app.service import GrantRefused, SiteService, WatchRefused

log = logging.getLogger(__name__)

COOKIE = "site_session"
SERVICE: web.AppKey[SiteService] = web.AppKey("site", SiteService)
# the page's own files, and the owner app's WebRTC client and its helpers (the same code plays
# a relay ticket on the device's page and here)
OWN_FILES = {
    "index.html": "text/html",
    "site.js": "text/javascript",
    "staff.js": "text/javascript",
    "password.js": "text/javascript",
    "reset.js": "text/javascript",
    "setup.js": "text/javascript",
    "share.js": "text/javascript",
    "site.css": "text/css",
}
SHARED_FILES = ("whep.js", "api.js", "i18n.js", "dom.js", "schedule.js", "classlist.js")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginBody(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class AccountBody(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: SiteRole = SiteRole.PARENT


class GrantBody(_Body):
    rooms: list[str] = Field(max_length=32)
    # a privacy.gates.schedule.Schedule, checked on its own so its errors say what is wrong in
    # the hours (null: no window with a day ticked)
    schedule: dict[str, Any] | None
    expires_at: float


def _error(status: int, code: str, reason: str) -> web.Response:
    return web.json_response({"error": code, "reason": reason}, status=status)


M = TypeVar("M", bound=BaseModel)


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(await request.json())
    except ValueError as err:
        detail = err.errors()[0]["msg"] if isinstance(err, ValidationError) else "not JSON"
        raise web.HTTPUnprocessableEntity(
            text=f'{{"error": "invalid_body", "reason": "{detail}"}}',
            content_type="application/json",
        ) from None


Handler = Callable[[web.Request, Login], Awaitable[web.StreamResponse]]


def logged_in(*roles: SiteRole) -> Callable[[Handler], Callable[[web.Request], Awaitable[Any]]]:
    """Resolve the caller's login (bearer token or cookie) and check their role."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[Any]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            service = request.app[SERVICE]
            login = service.accounts.login(_token(request))
            if login is None:
                return _error(401, "login_required", "log in first")
            if roles and login.account.role not in roles:
                return _error(403, "forbidden", "not for your account")
            return await handler(request, login)

        return checked

    return wrap


async def log_in(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    body = await _body(request, LoginBody)
    address = _client(request)
    try:
        attempt = service.limiter.login(body.username, address)
    except TooManyAttempts as refused:
        return _too_many(refused)
    hashed = service.accounts.password_hash(body.username)
    try:
        matches = await asyncio.wrap_future(
            service.passwords.submit(password_matches, hashed, body.password)
        )
    except PasswordWorkersBusy:
        attempt.refund()
        return _error(503, "busy", "too many logins at once; try again in a moment")
    account = service.accounts.by_username(body.username) if matches else None
    if account is None:
        return _error(401, "bad_login", "wrong username or password")
    attempt.succeeded()
    token, login = service.logged_in(account, address)
    return _session_response(
        request, token, {"token": token, "role": account.role, "expires_at": login.expires_at}
    )


def _session_response(
    request: web.Request, token: str, body: dict[str, object], status: int = 200
) -> web.Response:
    """``body`` as JSON with the new login's cookie (the page's; scripts use the token)."""
    response = web.json_response(body, status=status)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Strict", secure=_over_https(request), path="/"
    )
    return response


def _over_https(request: web.Request) -> bool:
    """Whether the browser reached the site over https: its own TLS, or the relay host's TLS
    proxy saying so (``X-Forwarded-Proto``, believed from ``http.trusted_proxies`` only). The
    login cookie is then Secure, and the page's origin https."""
    if request.secure:
        return True
    proxies = request.app[SERVICE].config.http.trusted_proxies
    proto = request.headers.get("X-Forwarded-Proto", "").strip().lower()
    return proto == "https" and from_trusted_proxy(request.remote or "", proxies)


def _client(request: web.Request) -> str:
    """The caller's address: the socket's peer, or what a trusted proxy says it forwarded."""
    return client_address(
        request.remote or "",
        request.headers.getall("X-Forwarded-For", []),
        request.app[SERVICE].config.http.trusted_proxies,
    )


def _too_many(refused: TooManyAttempts) -> web.Response:
    response = _error(429, "too_many_attempts", str(refused))
    response.headers["Retry-After"] = str(math.ceil(refused.retry_after))
    return response


def _token(request: web.Request) -> str:
    """The caller's login token: the bearer header's, else the page's cookie."""
    header = request.headers.get("Authorization", "")
    bearer = header.removeprefix("Bearer ") if header.startswith("Bearer ") else ""
    return bearer or request.cookies.get(COOKIE, "")


@logged_in()
async def log_out(request: web.Request, login: Login) -> web.StreamResponse:
    request.app[SERVICE].log_out(_token(request))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


class PasswordBody(_Body):
    current: str = Field(min_length=1, max_length=256)
    new: str = Field(min_length=1, max_length=256)


@logged_in()
async def change_password(request: web.Request, login: Login) -> web.StreamResponse:
    """A logged-in account changes its own password (a parent replaces the one staff set):
    the current one is checked under the login limiter, the new one under the devices' rules;
    every other login of the account ends."""
    service = request.app[SERVICE]
    body = await _body(request, PasswordBody)
    account = login.account
    address = _client(request)
    try:
        attempt = service.limiter.password_change(account.username, address)
    except TooManyAttempts as refused:
        return _too_many(refused)
    async with service.password_change:
        try:
            matches = await asyncio.wrap_future(
                service.passwords.submit(
                    password_matches, service.accounts.password_hash(account.username), body.current
                )
            )
            if not matches:
                return _error(403, "wrong_password", "the current password is wrong")
            attempt.succeeded()
            hashed = await asyncio.wrap_future(
                service.passwords.submit(prepare_password, account.username, body.new)
            )
        except PasswordWorkersBusy:
            attempt.refund()
            return _error(503, "busy", "try again in a moment")
        except AccountError as err:
            return _error(422, "weak_password", str(err))
        service.change_password(account, hashed, keep=_token(request))
    return web.json_response({"ok": True})


@logged_in()
async def me(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    grant = service.grants.get(login.account.id)
    parent = login.account.role == SiteRole.PARENT
    accepted = service.accounts.terms_of(login.account.id) == TERMS_VERSION
    english, chinese = VIEWING_TERMS[Role.PARENT]
    paused = {p.room: p for p in service.pauses.all()}
    return web.json_response(
        {
            "username": login.account.username,
            "role": login.account.role,
            "expires_at": login.expires_at,
            "grant": grant.to_json() if grant else None,
            "cameras": [
                {
                    **c.to_json(),
                    "paused": c.room in paused,
                    "paused_until": paused[c.room].ends_at if c.room in paused else None,
                }
                for c in service.cameras_of(login)
            ],
            "terms": {
                "required": parent and not accepted,
                "version": TERMS_VERSION,
                "en": english,
                "zh": chinese,
            },
        }
    )


class TermsBody(_Body):
    version: str = Field(min_length=1, max_length=32)


@logged_in(SiteRole.PARENT)
async def accept_terms(request: web.Request, login: Login) -> web.StreamResponse:
    """The parent accepts the viewing terms (the version the page showed); their grant then
    goes to the devices that film their rooms."""
    service = request.app[SERVICE]
    body = await _body(request, TermsBody)
    if body.version != TERMS_VERSION:
        return _error(409, "terms_changed", "the terms changed: read them again")
    service.accept_terms(login.account)
    return web.json_response({"version": TERMS_VERSION})


@logged_in(SiteRole.PARENT)
async def watch(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    device, camera = request.match_info["device"], request.match_info["camera"]
    try:
        reply = await service.watch(login, device, camera)
    except WatchRefused as refused:
        return _error(refused.status, refused.code, refused.reason)
    except DeviceUnreachable:
        return _error(504, "device_unreachable", "the device filming this room does not answer")
    return web.json_response(reply.ticket)


@logged_in(SiteRole.STAFF)
async def add_account(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    body = await _body(request, AccountBody)
    try:
        hashed = await asyncio.wrap_future(
            service.passwords.submit(prepare_password, body.username, body.password)
        )
        account = service.create_account(body.username, body.role, hashed, by=login.account)
    except AccountError as err:
        return _error(422, "invalid_account", str(err))
    except PasswordWorkersBusy:
        return _error(503, "busy", "try again in a moment")
    return web.json_response(
        {"id": account.id, "username": account.username, "role": account.role}, status=201
    )


def _account_json(service: SiteService, account: Account) -> dict[str, object]:
    """An account as staff see it: for a parent, whether they accepted the viewing terms, their
    grant, and where it stands on each device that films one of its rooms."""
    out: dict[str, object] = {"id": account.id, "username": account.username, "role": account.role}
    if account.role == SiteRole.PARENT:
        grant = service.grants.get(account.id)
        devices = list(service.directory.devices.values())
        paused = service.pauses.rooms()
        out |= {
            "terms_accepted": service.accounts.terms_of(account.id) == TERMS_VERSION,
            "grant": grant.to_json() if grant else None,
            "devices": [g.to_json() for g in grant_on_devices(grant, devices, paused)]
            if grant
            else [],
        }
    return out


@logged_in(SiteRole.STAFF)
async def list_accounts(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    return web.json_response([_account_json(service, a) for a in service.accounts.all()])


@logged_in(SiteRole.STAFF)
async def disable_account(request: web.Request, login: Login) -> web.StreamResponse:
    """Disable an account: its logins end and its grant is withdrawn from the devices."""
    service = request.app[SERVICE]
    account = service.accounts.get(request.match_info["account_id"])
    if account is None:
        return _error(404, "no_such_account", "no such account (or disabled already)")
    if account.id == login.account.id:
        return _error(409, "cannot_disable_self", "you cannot disable your own account")
    service.disable_account(account, by=login.account)
    return web.json_response({"ok": True})


@logged_in(SiteRole.STAFF)
async def disabled_accounts(request: web.Request, login: Login) -> web.StreamResponse:
    """The disabled accounts, most recently disabled first."""
    service = request.app[SERVICE]
    return web.json_response(
        [
            {"id": a.id, "username": a.username, "role": a.role, "disabled_at": at}
            for a, at in service.accounts.disabled()
        ]
    )


@logged_in(SiteRole.STAFF)
async def enable_account(request: web.Request, login: Login) -> web.StreamResponse:
    """Enable a disabled account again: its old password logs in; no grant until staff give one."""
    service = request.app[SERVICE]
    account = service.enable_account(request.match_info["account_id"], by=login.account)
    if account is None:
        return _error(404, "no_such_account", "no such disabled account")
    return web.json_response({"id": account.id, "username": account.username})


@logged_in(SiteRole.STAFF)
async def put_grant(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    account = service.accounts.get(request.match_info["account_id"])
    if account is None or account.role != SiteRole.PARENT:
        return _error(404, "no_such_parent", "no such parent account")
    body = await _body(request, GrantBody)
    if body.schedule is None:
        return _error(422, "invalid_schedule", "no viewing window: tick at least one day")
    try:
        schedule = Schedule.model_validate(body.schedule)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _error(
            422, "invalid_schedule", f"{where}: {first['msg']}" if where else first["msg"]
        )
    try:
        grant = service.put_grant(account, body.rooms, schedule, body.expires_at, by=login.account)
    except GrantRefused as refused:
        return _error(422, refused.code, refused.reason)
    return web.json_response(_account_json(service, account) | {"grant": grant.to_json()})


@logged_in(SiteRole.STAFF)
async def remove_grant(request: web.Request, login: Login) -> web.StreamResponse:
    service = request.app[SERVICE]
    account = service.accounts.get(request.match_info["account_id"])
    if account is None or not service.withdraw_grant(account, by=login.account):
        return _error(404, "no_such_grant", "this account holds no grant")
    return web.json_response({"ok": True})


@logged_in(SiteRole.STAFF)
async def devices(request: web.Request, login: Login) -> web.StreamResponse:
    """Each device: online, its cameras, the grants it holds and refuses (by account, with the
    account's name when the site knows it)."""
    service = request.app[SERVICE]
    names = {a.id: a.username for a in service.accounts.all()}
    clashes = service.directory.clashes()
    return web.json_response(
        [
            {
                "id": d.id,
                "online": d.online,
                "cameras": [
                    {
                        **c.model_dump(),
                        # other devices with a camera of this id (nobody watches it from here)
                        "clash": [other for other in clashes.get(c.id, []) if other != d.id],
                    }
                    for c in d.cameras
                ],
                "grants_held": len(d.ack.accepted) if d.ack else None,
                "grants_refused": d.ack.refused if d.ack else None,
                "held": [
                    {"account": a, "username": names.get(a)}
                    for a in sorted(d.ack.accepted if d.ack else {})
                ],
                "refused": [
                    {"account": a, "username": names.get(a), "reason": why}
                    for a, why in sorted((d.ack.refused if d.ack else {}).items())
                ],
            }
            for d in sorted(service.directory.devices.values(), key=lambda d: d.id)
        ]
    )


def _limit(request: web.Request, default: int = 100) -> int:
    try:
        return int(request.query.get("limit", str(default)))
    except ValueError:
        raise web.HTTPUnprocessableEntity(
            text='{"error": "invalid_query", "reason": "limit: a number"}',
            content_type="application/json",
        ) from None


def _record_json(record: AuditRecord) -> dict[str, object]:
    out = record.to_json()
    del out["prev_hash"]
    return out


@logged_in(SiteRole.STAFF)
async def site_audit(request: web.Request, login: Login) -> web.StreamResponse:
    """The site's own audit log, newest first (``cursor`` for older records), and whether its
    hash chain holds (checked whole at each call)."""
    service = request.app[SERVICE]
    query = request.query
    try:
        event = AuditEvent(query["event"]) if query.get("event") else None
    except ValueError:
        return _error(422, "invalid_query", f"event: no such event {query['event']!r}")
    try:
        listed = page(
            service.conn,
            event=event,
            actor=query.get("actor") or None,
            about=query.get("about") or None,
            limit=_limit(request, 50),
            cursor=query.get("cursor"),
        )
    except ValueError as err:
        return _error(422, "invalid_query", str(err))
    checked = await asyncio.to_thread(verify_site_log, service.config.data_dir)
    return web.json_response(
        {
            "ok": checked.ok,
            "total": checked.records,
            "problems": checked.problems,
            "records": [_record_json(r) for r in listed.records],
            "cursor": listed.cursor,
        }
    )


@logged_in(SiteRole.STAFF)
async def export_site_audit(request: web.Request, login: Login) -> web.StreamResponse:
    """The site's whole log as JSON Lines, oldest first, to keep or hand over (written off the
    loop on a read-only connection)."""
    service = request.app[SERVICE]
    out = io.StringIO()
    await asyncio.to_thread(export_site_log, service.config.data_dir, out)
    return web.Response(
        text=out.getvalue(),
        content_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="site-audit.jsonl"'},
    )


@logged_in(SiteRole.STAFF)
async def devices_audit(request: web.Request, login: Login) -> web.StreamResponse:
    """Every device's trail merged, newest first, with each device's chain state."""
    service = request.app[SERVICE]
    trails = service.trails
    return web.json_response(
        {
            "devices": [trails.state(d).to_json() for d in trails.devices()],
            "events": trails.events(),
            "records": trails.merged(_limit(request), **_trail_filter(request)),
        }
    )


def _trail_filter(request: web.Request) -> dict[str, str | None]:
    """The devices' trails filtered by ``event`` (the device's name of it) and by ``account``
    (a site account: the records about it, which a device names ``site:<id>``)."""
    account = request.query.get("account") or None
    return {
        "event": request.query.get("event") or None,
        "viewer": f"site:{account}" if account else None,
    }


@logged_in(SiteRole.STAFF)
async def audit_trail(request: web.Request, login: Login) -> web.StreamResponse:
    """A device's audit records as the site kept them (newest first) and whether its chain held."""
    service = request.app[SERVICE]
    device = request.match_info["device"]
    if device not in service.directory.devices:
        return _error(404, "no_such_device", "no such device at this site")
    return web.json_response(
        {
            **service.trails.state(device).to_json(),
            "records": service.trails.records(device, _limit(request), **_trail_filter(request)),
        }
    )


@logged_in(SiteRole.STAFF)
async def rooms(request: web.Request, login: Login) -> web.StreamResponse:
    listed = request.app[SERVICE].directory.rooms()
    return web.json_response({room: [c.to_json() for c in cams] for room, cams in listed.items()})


@logged_in(SiteRole.STAFF)
async def paused_rooms(request: web.Request, login: Login) -> web.StreamResponse:
    """The rooms whose viewing is paused, with when and by whom."""
    return web.json_response([p.to_json() for p in request.app[SERVICE].pauses.all()])


class PauseBody(_Body):
    minutes: int | None = Field(default=None, ge=1, le=MAX_PAUSE_MINUTES)


@logged_in(SiteRole.STAFF)
async def pause_room(request: web.Request, login: Login) -> web.StreamResponse:
    """Stop every parent watching the room now (the devices cut their relay viewers off), and
    give no ticket for it for ``minutes`` or until it is resumed."""
    service = request.app[SERVICE]
    body = await _body(request, PauseBody)
    room = request.match_info["room"]
    if room not in service.directory.rooms():
        return _error(404, "unknown_room", f"no device films {room!r}")
    if not service.pauses.pause(room, by=login.account, minutes=body.minutes):
        return _error(409, "already_paused", f"{room!r} is paused already")
    service.sync_all()
    (pause,) = [p for p in service.pauses.all() if p.room == room]
    return web.json_response({"room": room, "paused": True, "ends_at": pause.ends_at})


@logged_in(SiteRole.STAFF)
async def resume_room(request: web.Request, login: Login) -> web.StreamResponse:
    """Let the room's parents watch again (each opens the stream again)."""
    service = request.app[SERVICE]
    room = request.match_info["room"]
    if not service.pauses.resume(room, by=login.account):
        return _error(409, "not_paused", f"{room!r} is not paused")
    service.sync_all()
    return web.json_response({"room": room, "paused": False})


def page_csp(relay_origin: str | None) -> str:
    """The page's policy: its own files only; it connects to the site and the relay."""
    connect = f"'self' {relay_origin}" if relay_origin else "'self'"
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
        "media-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _file(
    name: str, package: str, content_type: str, csp: str
) -> Callable[[web.Request], Awaitable[Any]]:
    async def serve(_request: web.Request) -> web.StreamResponse:
        data = resources.files(package).joinpath(name).read_bytes()
        return web.Response(
            body=data,
            content_type=content_type,
            headers={
                "Cache-Control": "no-cache",
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
            },
        )

    return serve


@web.middleware
async def same_site_changes(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refuse a change that a page of another site made a browser send (the device's guard,
    ``camera_app.api.guards``): SameSite=Strict keeps the cookie from other sites, not from a
    sibling host of the same site. A browser's own change names its origin (``Origin``, and
    ``Sec-Fetch-Site``); a script sends a bearer token and no cookie. Behind the relay host's
    TLS proxy (``http.trusted_proxies``) the page's origin is https: its ``X-Forwarded-Proto``
    says so."""
    secure = _over_https(request)
    refusal = cross_site_refusal(
        request.method,
        {k.lower(): v for k, v in request.headers.items()},
        secure=secure,
        has_cookie=COOKIE in request.cookies,
    )
    if refusal is not None:
        log.info("refused a cross-site %s %s from %s", request.method, request.path, request.remote)
        if not secure and request.headers.get("Origin", "").startswith("https://"):
            log.warning(
                "a change from an https page reached the site over plain http: if it is behind "
                "a TLS proxy, list the proxy in http.trusted_proxies (its X-Forwarded-Proto "
                "then counts)"
            )
        return _error(refusal.status, refusal.code, refusal.reason)
    return await handler(request)


def make_app(service: SiteService) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[same_site_changes])
    app[SERVICE] = service
    app.router.add_post("/api/login", log_in)
    app.router.add_post("/api/logout", log_out)
    app.router.add_post("/api/password", change_password)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/terms", accept_terms)
    app.router.add_post("/api/watch/{device}/{camera}", watch)
    app.router.add_get("/api/accounts", list_accounts)
    app.router.add_post("/api/accounts", add_account)
    app.router.add_post("/api/accounts/{account_id}/disable", disable_account)
    app.router.add_get("/api/accounts/disabled", disabled_accounts)
    app.router.add_post("/api/accounts/{account_id}/enable", enable_account)
    app.router.add_put("/api/grants/{account_id}", put_grant)
    app.router.add_delete("/api/grants/{account_id}", remove_grant)
    app.router.add_get("/api/devices", devices)
    app.router.add_get("/api/rooms", rooms)
    app.router.add_get("/api/rooms/paused", paused_rooms)
    app.router.add_post("/api/rooms/{room}/pause", pause_room)
    app.router.add_post("/api/rooms/{room}/resume", resume_room)
    app.router.add_get("/api/devices/{device}/audit", audit_trail)
    app.router.add_get("/api/audit", site_audit)
    app.router.add_get("/api/audit/devices", devices_audit)
    app.router.add_get("/api/audit/export", export_site_audit)
    csp = page_csp(service.config.http.relay_origin)
    app.router.add_get("/", _file("index.html", "site_app.web", "text/html", csp))
    for name, kind in OWN_FILES.items():
        app.router.add_get(f"/{name}", _file(name, "site_app.web", kind, csp))
    for name in SHARED_FILES:
        app.router.add_get(f"/{name}", _file(name, "camera_app.api.web", "text/javascript", csp))
    from site_app.web import onboarding, resets, setup  # they use this module's helpers

    onboarding.add_routes(app)  # invites and the class-list import
    resets.add_routes(app)  # password reset links
    setup.add_routes(app)  # the first staff account
    return app


async def serve(service: SiteService) -> tuple[web.AppRunner, str]:
    """Start listening; returns the runner (``cleanup()`` stops it) and the base URL."""
    http = service.config.http
    runner = web.AppRunner(make_app(service), access_log=None)
    await runner.setup()
    context = None
    if http.certfile is not None and http.keyfile is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(http.certfile), str(http.keyfile))
    site = web.TCPSite(runner, http.host, http.port, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if context else "http"
    return runner, f"{scheme}://{http.host}:{port}"
