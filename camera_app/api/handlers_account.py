"""Owner set-up, logins (owner, invited viewers, public links), invitations and logout."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

from camera_app import accounts
from camera_app.api.context import SESSION_COOKIE, ApiContext, client_address
from camera_app.api.errors import ApiError
from camera_app.api.routes import PUBLIC, VIEWERS, Call, RouteTable
from camera_app.api.schemas import (
    AcceptInviteBody,
    InvitePreviewBody,
    LoginBody,
    PublicLoginBody,
    SetupBody,
)
from camera_app.invites import grant_conditions, invite_preview
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.viewers import CameraInfo

routes = RouteTable()


def _client(request: web.Request) -> str:
    return client_address(request)


def _user_agent(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")


def throttle(ctx: ApiContext, *keys: str) -> None:
    wait = ctx.limiter.retry_after(*keys)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed attempts; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


def _session_response(
    ctx: ApiContext, status: int, token: str, expires: float, body: dict[str, object]
) -> web.Response:
    response = web.json_response({**body, "token": token, "expires_at": expires}, status=status)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(expires - ctx.clock.wall()),
        httponly=True,
        secure=ctx.tls,
        samesite="Strict",
        path="/",
    )
    return response


@routes.add(
    "POST",
    "/api/setup",
    summary="Create the owner account with the one-time setup code from the device console",
    roles=PUBLIC,
    tag="account",
    body=SetupBody,
    responses={
        201: "Owner created",
        403: "Setup code wrong, used or expired",
        409: "An owner exists already",
        429: "Too many attempts",
    },
)
async def setup_owner(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(SetupBody)
    keys = (f"ip:{_client(call.request)}", "setup")
    throttle(ctx, *keys)
    if accounts.has_owner(ctx.conn):
        raise ApiError(409, "owner_exists", "an owner account already exists")
    try:
        accounts.check_password(body.password, body.username)
    except accounts.SetupError as err:
        raise ApiError(422, "weak_password", str(err)) from None
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(
            None,
            accounts.create_owner,
            ctx.conn,
            ctx.clock,
            body.code,
            body.username,
            body.password,
        )
    except accounts.SetupError as err:
        ctx.limiter.failed(*keys)
        raise ApiError(403, "setup_refused", str(err)) from None
    return web.json_response({"username": body.username, "role": Role.OWNER}, status=201)


@routes.add(
    "POST",
    "/api/login",
    summary="Log in with a username and password; returns a session token (also set as cookie)",
    roles=PUBLIC,
    tag="account",
    body=LoginBody,
    responses={200: "Logged in", 401: "Wrong username or password", 429: "Too many attempts"},
)
async def login(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(LoginBody)
    user_key, ip_key = f"user:{body.username.lower()}", f"ip:{_client(call.request)}"
    throttle(ctx, user_key, ip_key)
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, ctx.logins.password_ok, body.username, body.password)
    granted = ctx.logins.complete(
        body.username, ok, _client(call.request), _user_agent(call.request)
    )
    if granted is None:
        ctx.limiter.failed(user_key, ip_key)
        raise ApiError(401, "login_failed", "wrong username or password")
    ctx.limiter.succeeded(user_key)
    return _session_response(
        ctx,
        200,
        granted.token,
        granted.expires_at,
        {"username": granted.username, "role": granted.role},
    )


@routes.add(
    "POST",
    "/api/public/login",
    summary="Exchange a public viewing link (merchant audience) for a viewer session",
    roles=PUBLIC,
    tag="account",
    body=PublicLoginBody,
    responses={
        200: "Session for one camera",
        401: "Unknown or revoked link",
        429: "Too many attempts",
    },
)
async def public_login(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(PublicLoginBody)
    ip_key = f"ip:{_client(call.request)}"
    throttle(ctx, ip_key)
    link = ctx.controller.viewers.public_link_for_token(body.link)
    if link is None:
        ctx.limiter.failed(ip_key)
        raise ApiError(401, "login_failed", "this viewing link is unknown or was revoked")
    token, expires = ctx.sessions.create(
        f"public:{link.id[:8]}",
        Role.PUBLIC,
        link.id,
        client=_client(call.request),
        user_agent=_user_agent(call.request),
    )
    return _session_response(
        ctx, 200, token, expires, {"role": Role.PUBLIC, "camera_id": link.camera_id}
    )


def _invalid_invite() -> ApiError:
    """The one refusal for an unknown, used, expired or revoked code (preview and accept)."""
    return ApiError(400, "invalid_invite", "the invite code is wrong, used or expired")


@routes.add(
    "POST",
    "/api/invites/preview",
    summary="What an invite code grants, and the viewing terms, before accepting it (the code "
    "stays unused)",
    roles=PUBLIC,
    tag="account",
    body=InvitePreviewBody,
    responses={200: "The invitation", 400: "Code wrong, used or expired", 429: "Too many attempts"},
)
async def preview_invite(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(InvitePreviewBody)
    ip_key = f"ip:{_client(call.request)}"
    throttle(ctx, ip_key)
    viewer = ctx.controller.viewers.pending_invite(body.code)
    if viewer is None:
        ctx.limiter.failed(ip_key)
        raise _invalid_invite()
    cameras = list(ctx.controller.cameras.values())
    return web.json_response(invite_preview(viewer, cameras, ctx.controller.tz, call.lang))


@routes.add(
    "POST",
    "/api/invites/accept",
    summary="An invited viewer sets a password with the one-time invite code (and consents)",
    roles=PUBLIC,
    tag="account",
    body=AcceptInviteBody,
    responses={
        201: "Account created",
        400: "Code wrong, used or expired",
        409: "The account exists already",
        429: "Too many attempts",
    },
)
async def accept_invite(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(AcceptInviteBody)
    ip_key = f"ip:{_client(call.request)}"
    throttle(ctx, ip_key)
    viewers = ctx.controller.viewers
    viewer = viewers.pending_invite(body.code)
    if viewer is None:
        ctx.limiter.failed(ip_key)
        raise _invalid_invite()
    if viewer.role == Role.PARENT and not body.consent:
        raise ApiError(422, "consent_required", "parents must accept the viewing terms")
    try:
        accounts.check_password(body.password, viewer.username)
    except accounts.SetupError as err:
        raise ApiError(422, "weak_password", str(err)) from None
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(
            None,
            accounts.create_viewer_account,
            ctx.conn,
            ctx.clock,
            viewer.username,
            viewer.role,
            body.password,
        )
    except accounts.SetupError as err:
        raise ApiError(409, "account_exists", str(err)) from None
    accepted = viewers.redeem_invite(body.code, consent=body.consent)
    assert accepted is not None
    return web.json_response({"username": viewer.username, "role": viewer.role}, status=201)


@routes.add(
    "POST",
    "/api/logout",
    summary="End this session",
    roles=VIEWERS,
    tag="account",
    responses={204: "Logged out"},
)
async def logout(call: Call) -> web.Response:
    ctx = call.ctx
    token = call.request.headers.get("Authorization", "").partition(" ")[2].strip()
    ctx.sessions.end(token or call.request.cookies.get(SESSION_COOKIE, ""))
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.add(
    "GET",
    "/api/me",
    summary="Who is logged in, which cameras they may see and whose recordings; family and "
    "parents also get their viewing hours and, per camera, whether they may watch now",
    roles=VIEWERS,
    tag="account",
)
async def me(call: Call) -> web.Response:
    ctx = call.ctx
    principal = call.principal
    cameras = ctx.live.rules.visible_cameras(principal)
    readable = ctx.recording_cameras(principal)
    body: dict[str, object] = {
        "username": principal.username,
        "role": principal.role,
        "session_expires_at": principal.expires_at,
        "cameras": [c.id for c in cameras],
        "recordings": sorted(ctx.controller.cameras if readable is None else readable),
    }
    if principal.role in INVITED_ROLES:
        body["viewing"] = _viewing(call, cameras)
    return web.json_response(body)


def _viewing(call: Call, cameras: list[CameraInfo]) -> dict[str, object] | None:
    """An invited viewer's own hours (device time zone) and, per camera, may they watch now."""
    ctx, principal = call.ctx, call.principal
    rules = ctx.live.rules
    viewer, hours = rules.viewer(principal), rules.hours(principal)
    if viewer is None or hours is None:
        return None
    per_camera = []
    for camera in cameras:
        access = rules.access(principal, camera)
        refusal = ctx.refusal(principal, access.reason, call.lang) if access.reason else None
        per_camera.append(
            {
                "id": camera.id,
                "name": camera.name,
                "room": camera.room,
                "live": ctx.controller.is_live(camera.id),
                "may_watch_now": access.allowed,
                "reason": access.reason,
                "reason_text": refusal[0] if refusal else None,
                **hours.to_json(),
            }
        )
    return {
        **grant_conditions(viewer, ctx.controller.tz, call.lang),
        **hours.to_json(),
        "cameras": per_camera,
    }
