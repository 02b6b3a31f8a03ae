"""Scoped API tokens for integrations (owner only; a token cannot manage tokens)."""

from __future__ import annotations

from aiohttp import web

from camera_app.api.errors import ApiError
from camera_app.api.routes import OWNER, Call, RouteTable
from camera_app.api.schemas import TokenBody
from camera_app.tokens import TokenError

routes = RouteTable()


@routes.add(
    "GET", "/api/tokens", summary="The API tokens and their scopes", roles=OWNER, tag="tokens"
)
async def list_tokens(call: Call) -> web.Response:
    return web.json_response([t.to_json() for t in call.ctx.tokens.all()])


@routes.add(
    "POST",
    "/api/tokens",
    summary="Make an API token for an integration with the fewest scopes it needs "
    "(events:read, device:read, monitoring:arm); the token is shown once",
    roles=OWNER,
    tag="tokens",
    body=TokenBody,
    responses={201: "Made; 'token' is shown only now", 409: "Name taken or too many tokens"},
)
async def create_token(call: Call) -> web.Response:
    body = await call.body(TokenBody)
    try:
        token, secret = call.ctx.tokens.create(body.name, body.scopes, actor=call.actor)
    except TokenError as err:
        raise ApiError(409, err.code, str(err)) from None
    return web.json_response({**token.to_json(), "token": secret}, status=201)


@routes.add(
    "POST",
    "/api/tokens/{token_id}/revoke",
    summary="Revoke an API token; it stops working at once",
    roles=OWNER,
    tag="tokens",
    responses={200: "Revoked", 404: "No such token in force"},
)
async def revoke_token(call: Call) -> web.Response:
    token = call.ctx.tokens.revoke(call.param("token_id"), actor=call.actor)
    if token is None:
        raise ApiError(404, "unknown_token", "no such token, or already revoked")
    return web.json_response(token.to_json())
