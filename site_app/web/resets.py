"""Password reset links on the site (:mod:`site_app.resets`): staff make one from an account's
card; the person opens it, sees their username, sets a new password and is logged in."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import Field

from camera_app.passwords import PasswordWorkersBusy
from site_app.accounts import AccountError, Login, SiteRole, prepare_password
from site_app.web.onboarding import Code, open_code
from site_app.web.server import SERVICE, _Body, _body, _error, _session_response, logged_in


class ResetCodeBody(_Body):
    code: Code


class ResetBody(_Body):
    code: Code
    password: str = Field(min_length=1, max_length=256)


@logged_in(SiteRole.STAFF)
async def issue_reset(request: web.Request, login: Login) -> web.StreamResponse:
    """A reset link for the account (any earlier one withdrawn), its code shown once."""
    service = request.app[SERVICE]
    account = service.accounts.get(request.match_info["account_id"])
    if account is None:
        return _error(404, "no_such_account", "no such account (or disabled)")
    reset, code = service.resets.issue(account, by=login.account)
    body = {
        "username": account.username,
        "code": code,
        "reset_path": f"/#reset={code}",
        "expires_at": reset.expires_at,
    }
    return web.json_response(body, status=201)


async def preview_reset(request: web.Request) -> web.StreamResponse:
    """Whose password the code resets, and until when it works."""
    service = request.app[SERVICE]
    body = await _body(request, ResetCodeBody)
    reset = open_code(request, lambda: service.resets.usable(body.code))
    if isinstance(reset, web.Response):
        return reset
    return web.json_response({"username": reset.account.username, "expires_at": reset.expires_at})


async def reset_password(request: web.Request) -> web.StreamResponse:
    """The new password (the devices' rules) for the code's account; every other login of the
    account ends, and this one begins."""
    service = request.app[SERVICE]
    body = await _body(request, ResetBody)
    reset = open_code(request, lambda: service.resets.usable(body.code))
    if isinstance(reset, web.Response):
        return reset
    username = reset.account.username
    try:
        hashed = await asyncio.wrap_future(
            service.passwords.submit(prepare_password, username, body.password)
        )
    except AccountError as err:
        return _error(422, "bad_password", str(err))
    except PasswordWorkersBusy:
        return _error(503, "busy", "too many at once; try again in a moment")
    # the code is checked again and burnt with the new password in one transaction (no await):
    # it may have been used, replaced or its account disabled while the password was hashed
    account = open_code(request, lambda: service.resets.redeem(body.code, hashed))
    if isinstance(account, web.Response):
        return account
    token, login = service.accounts.log_in(account)
    return _session_response(
        request,
        token,
        {
            "token": token,
            "username": account.username,
            "role": account.role,
            "expires_at": login.expires_at,
        },
    )


def add_routes(app: web.Application) -> None:
    """Register the reset routes on the site's app."""
    app.router.add_post("/api/accounts/{account_id}/reset", issue_reset)
    app.router.add_post("/api/reset/preview", preview_reset)
    app.router.add_post("/api/reset", reset_password)
