"""The site's first staff account from its page (:mod:`site_app.setup`): the setup code shown on
the console, the office's username and password."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field, StringConstraints

from site_app.setup import SETUP
from site_app.web.onboarding import Code, logged_in_now, new_password_hash, open_code
from site_app.web.server import SERVICE, _Body, _body


class SetupBody(_Body):
    code: Code
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: str = Field(min_length=1, max_length=256)


async def setup_state(request: web.Request) -> web.StreamResponse:
    """Whether the site still waits for its first staff account (the page then shows the form)."""
    return web.json_response({"needed": request.app[SERVICE].setup.needed()})


async def set_up(request: web.Request) -> web.StreamResponse:
    """The first staff account, with the setup code; logged in at once."""
    service = request.app[SERVICE]
    body = await _body(request, SetupBody)
    checked = open_code(request, lambda: service.setup.check(body.code), shared=SETUP)
    if isinstance(checked, web.Response):
        return checked
    hashed = await new_password_hash(service, body.username, body.password)
    if isinstance(hashed, web.Response):
        return hashed
    # checked again and burnt with the account in one transaction (no await)
    account = open_code(
        request, lambda: service.setup.redeem(body.code, body.username, hashed), shared=SETUP
    )
    if isinstance(account, web.Response):
        return account
    return logged_in_now(request, service, account, status=201)


def add_routes(app: web.Application) -> None:
    """Register the setup routes on the site's app."""
    app.router.add_get("/api/setup", setup_state)
    app.router.add_post("/api/setup", set_up)
