"""Sessions: the caller's own account (password, login sessions on other devices) and, for the
owner, who is watching live now, with the power to end a viewing at once.

Public viewers hold no account (a public link is their only credential), so the account routes
refuse them with 403 like any route their role may not call.
"""

from __future__ import annotations

from aiohttp import web

from camera_app import accounts
from camera_app.api.context import client_address
from camera_app.api.errors import ApiError
from camera_app.api.handlers_account import password_work, throttle
from camera_app.api.routes import ACCOUNTS, OWNER, Call, RouteTable
from camera_app.api.schemas import ChangePasswordBody

routes = RouteTable()


@routes.add(
    "POST",
    "/api/account/password",
    summary="Change your password (the current one is required); ends your other sessions",
    roles=ACCOUNTS,
    tag="account",
    body=ChangePasswordBody,
    responses={
        200: "Changed; how many other sessions were ended",
        403: "Current password wrong (or a public viewer)",
        429: "Too many attempts",
        503: "Busy checking other passwords",
    },
)
async def change_password(call: Call) -> web.Response:
    ctx, principal = call.ctx, call.principal
    body = await call.body(ChangePasswordBody)
    client = client_address(call.request)
    # its own account key: a stolen session guessing here does not lock the owner's login
    attempt = throttle(lambda: ctx.limiter.password_change(principal.username, client))
    try:
        accounts.check_password(body.new_password, principal.username)
    except accounts.SetupError as err:
        attempt.refund()
        raise ApiError(422, "weak_password", f"new_password: {err}") from None
    hashed = ctx.logins.password_hash(principal.username)
    ok = await password_work(
        ctx, attempt, accounts.check_password_hash, hashed, body.current_password
    )
    if not ok:
        raise ApiError(403, "wrong_password", "current_password: this is not your password")
    attempt.succeeded()
    new_hash = await password_work(ctx, attempt, accounts.hash_password, body.new_password)
    ended = ctx.logins.change_password(principal, new_hash, client)
    return web.json_response({"changed": True, "sessions_ended": ended})


@routes.add(
    "GET",
    "/api/account/sessions",
    summary="Your login sessions (newest first): id, created, last seen, address, browser; "
    "current marks this one",
    roles=ACCOUNTS,
    tag="account",
)
async def list_own_sessions(call: Call) -> web.Response:
    principal = call.principal
    return web.json_response(
        [
            s.to_json(current=s.id == principal.session_id)
            for s in call.ctx.sessions.of_user(principal.username)
        ]
    )


@routes.add(
    "POST",
    "/api/account/sessions/{session_id}/end",
    summary="End one of your login sessions (e.g. a lost phone); audited",
    roles=ACCOUNTS,
    tag="account",
    responses={200: "Ended", 404: "You have no session with this id"},
)
async def end_own_session(call: Call) -> web.Response:
    session_id = call.param("session_id")
    if not call.ctx.logins.end_own_session(call.principal, session_id):
        raise ApiError(404, "unknown_session", "no such session")
    return web.json_response({"ended": True, "id": session_id})


@routes.add(
    "GET",
    "/api/live/sessions",
    summary="Who is watching now: every live viewing session (viewer, camera, since, address)",
    roles=OWNER,
    tag="live",
)
async def list_live_sessions(call: Call) -> web.Response:
    return web.json_response([v.to_json() for v in call.ctx.live.viewings()])


@routes.add(
    "POST",
    "/api/live/sessions/{session_id}/end",
    summary="End someone's live viewing session at once (audited: who ended whose session)",
    roles=OWNER,
    tag="live",
    responses={200: "Ended", 404: "No such live session"},
)
async def end_live_session(call: Call) -> web.Response:
    viewing = await call.ctx.live.end_session(call.param("session_id"), actor=call.actor)
    if viewing is None:
        raise ApiError(404, "unknown_session", "no such live session")
    return web.json_response({"ended": True, **viewing.to_json()})
