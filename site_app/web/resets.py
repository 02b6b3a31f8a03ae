"""Password reset links on the site (:mod:`site_app.resets`): staff make one from an account's
card; the person opens it, sees their username, sets a new password and is logged in."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from site_app.accounts import Login, SiteRole
from site_app.web.onboarding import Code, logged_in_now, new_password_hash, open_code
from site_app.web.server import SERVICE, _Body, _body, _error, logged_in


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
    hashed = await new_password_hash(service, reset.account.username, body.password)
    if isinstance(hashed, web.Response):
        return hashed
    # the code is checked again and burnt with the new password in one transaction (no await):
    # it may have been used, replaced or its account disabled while the password was hashed
    account = open_code(request, lambda: service.reset_password(body.code, hashed))
    if isinstance(account, web.Response):
        return account
    return logged_in_now(request, service, account)


def add_routes(app: web.Application) -> None:
    """Register the reset routes on the site's app."""
    app.router.add_post("/api/accounts/{account_id}/reset", issue_reset)
    app.router.add_post("/api/reset/preview", preview_reset)
    app.router.add_post("/api/reset", reset_password)
