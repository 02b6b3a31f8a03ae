"""Owner set-up, logins (owner, invited viewers, public links), invitations and logout."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ParamSpec, TypeVar

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
from camera_app.logins import Attempt, LoginDevices, TooManyAttempts
from camera_app.passwords import PasswordWorkersBusy
from privacy.gates.roles import INVITED_ROLES, Role
from privacy.gates.viewers import CameraInfo

routes = RouteTable()

P = ParamSpec("P")
T = TypeVar("T")


def _client(request: web.Request) -> str:
    return client_address(request)


def _user_agent(request: web.Request) -> str:
    return request.headers.get("User-Agent", "")


def throttle(reserve: Callable[[], Attempt]) -> Attempt:
    """Count the attempt ``reserve`` makes (``ctx.limiter.login(...)``, ...) before its secret is
    checked; a 429 with Retry-After when its limit is reached."""
    try:
        return reserve()
    except TooManyAttempts as err:
        seconds = max(1, math.ceil(err.retry_after))
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many failed attempts; try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        ) from None


async def password_work(
    ctx: ApiContext, attempt: Attempt, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn(*args)`` (argon2) on the password workers; when they are full, a 503 at once and the
    attempt is taken back (it was no attempt)."""
    try:
        return await ctx.passwords.run(fn, *args, **kwargs)
    except PasswordWorkersBusy:
        attempt.refund()
        raise ApiError(
            503,
            "busy",
            "the device is busy checking other passwords; try again in a moment",
            headers={"Retry-After": "1"},
        ) from None


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
        503: "Busy checking other passwords",
    },
)
async def setup_owner(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(SetupBody)
    attempt = throttle(lambda: ctx.limiter.code(_client(call.request), shared="setup"))
    if accounts.has_owner(ctx.conn):
        attempt.refund()
        raise _owner_exists()
    try:
        accounts.check_owner_request(body.username, body.password)
    except accounts.SetupError as err:
        attempt.refund()
        raise ApiError(422, "weak_password", str(err)) from None
    pending = accounts.pending_setup_codes(ctx.conn, ctx.clock.wall())
    matched = await password_work(
        ctx, attempt, accounts.match_setup_code, pending, body.code, body.password
    )
    if matched is None:
        raise ApiError(403, "setup_refused", "setup code is wrong, used or expired")
    # checks again, in one transaction, that there is no owner and the code is unused: of
    # concurrent set-ups with one code exactly one gets here first
    try:
        accounts.store_owner(ctx.conn, ctx.clock, matched, body.username)
    except accounts.OwnerExists:
        attempt.refund()
        raise _owner_exists() from None
    except accounts.SetupError as err:
        raise ApiError(403, "setup_refused", str(err)) from None
    attempt.succeeded()
    return web.json_response({"username": body.username, "role": Role.OWNER}, status=201)


def _owner_exists() -> ApiError:
    return ApiError(409, "owner_exists", "an owner account already exists")


@routes.add(
    "POST",
    "/api/login",
    summary="Log in with a username and password; returns a session token (also set as cookie)",
    roles=PUBLIC,
    tag="account",
    body=LoginBody,
    responses={
        200: "Logged in",
        401: "Wrong username or password",
        429: "Too many attempts",
        503: "Busy checking other passwords",
    },
)
async def login(call: Call) -> web.Response:
    ctx = call.ctx
    body = await call.body(LoginBody)
    client = _client(call.request)
    cookie = call.request.cookies.get(LoginDevices.COOKIE, "")
    device = ctx.devices.device_of(body.username, cookie) if cookie else None
    attempt = throttle(lambda: ctx.limiter.login(body.username, client, device))
    hashed = ctx.logins.password_hash(body.username)
    ok = await password_work(ctx, attempt, accounts.check_password_hash, hashed, body.password)
    granted = ctx.logins.complete(body.username, ok, client, _user_agent(call.request))
    if granted is None:
        raise ApiError(401, "login_failed", "wrong username or password")
    attempt.succeeded()
    response = _session_response(
        ctx,
        200,
        granted.token,
        granted.expires_at,
        {"username": granted.username, "role": granted.role},
    )
    response.set_cookie(
        LoginDevices.COOKIE,
        ctx.devices.issue(granted.username),
        max_age=LoginDevices.MAX_AGE_S,
        httponly=True,
        secure=ctx.tls,
        samesite="Strict",
        path="/api/login",
    )
    return response


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
    attempt = throttle(lambda: ctx.limiter.code(_client(call.request)))
    link = ctx.controller.viewers.public_link_for_token(body.link)
    if link is None:
        raise ApiError(401, "login_failed", "this viewing link is unknown or was revoked")
    attempt.refund()  # a good link is no guess
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
    attempt = throttle(lambda: ctx.limiter.code(_client(call.request)))
    viewer = ctx.controller.viewers.pending_invite(body.code)
    if viewer is None:
        raise _invalid_invite()
    attempt.refund()  # a good code is no guess
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
    attempt = throttle(lambda: ctx.limiter.code(_client(call.request)))
    viewers = ctx.controller.viewers
    viewer = viewers.pending_invite(body.code)
    if viewer is None:
        raise _invalid_invite()
    attempt.refund()  # a good code is no guess
    if viewer.role == Role.PARENT and not body.consent:
        raise ApiError(422, "consent_required", "parents must accept the viewing terms")
    try:
        accounts.check_password(body.password, viewer.username)
    except accounts.SetupError as err:
        raise ApiError(422, "weak_password", str(err)) from None
    password_hash = await password_work(ctx, attempt, accounts.hash_password, body.password)
    # the code may have been redeemed while the password was hashed
    if viewers.pending_invite(body.code) is None:
        raise _invalid_invite()
    try:
        accounts.create_viewer_account(
            ctx.conn, ctx.clock, viewer.username, viewer.role, password_hash
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
