"""One table of routes: it registers the handlers, enforces who may call each one, and is the
source of the OpenAPI description, so the three cannot disagree.

Every route names the roles allowed to call it. ``PUBLIC`` routes need no session (setup, login,
the posted-notice page); any other route without a valid session is a 401, and a session of a
role not listed is a 403. A path with ``{camera_id}`` also resolves the camera before the handler
runs: the owner's camera (404 when unknown) or a camera the viewer's grant covers (403 otherwise,
without saying whether it exists); on a route that serves recordings, a camera whose recordings
the caller may see (404 otherwise, as on a hidden route). Handlers take one :class:`Call` with all
of that resolved.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from camera_app.api.context import CTX, ApiContext, language
from camera_app.api.errors import ApiError, read_body
from camera_app.logins import Principal
from camera_app.tokens import Scope
from privacy.gates.roles import Role
from privacy.gates.viewers import CameraInfo
from privacy.registration import with_article

PUBLIC: frozenset[Role] = frozenset()
OWNER = frozenset({Role.OWNER})
ACCOUNTS = frozenset({Role.OWNER, Role.FAMILY, Role.PARENT})  # who has a password
VIEWERS = frozenset(Role)
#: Who may read recordings: the owner, and family viewers for the cameras the owner granted them
RECORDING_READERS = frozenset({Role.OWNER, Role.FAMILY})

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CallHandler = Callable[["Call"], Awaitable[web.StreamResponse]]
B = TypeVar("B", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a route, with what the route table resolved for it."""

    request: web.Request
    ctx: ApiContext
    caller: Principal | None  # None on PUBLIC routes
    resolved_camera: CameraInfo | None  # set when the path names {camera_id}

    @property
    def principal(self) -> Principal:
        if self.caller is None:  # a PUBLIC route asked for a principal
            raise ApiError(401, "unauthenticated", "log in first")
        return self.caller

    @property
    def actor(self) -> str:
        """Who acts, for the audit log."""
        return self.principal.username

    @property
    def camera(self) -> CameraInfo:
        if self.resolved_camera is None:
            raise RuntimeError("this route's path names no {camera_id}")
        return self.resolved_camera

    @property
    def lang(self) -> str:
        return language(self.request)

    def param(self, name: str) -> str:
        return self.request.match_info[name]

    async def body(self, model: type[B]) -> B:
        return await read_body(self.request, model)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: CallHandler
    summary: str
    roles: frozenset[Role]
    body: type[BaseModel] | None
    responses: dict[int, str]
    tag: str
    content: str = "application/json"
    hidden: bool = False  # other roles get 404, as for an unknown id (recordings)
    scope: Scope | None = None  # what an API token needs to call it; None: no token may
    recordings: bool = False  # {camera_id}: a camera whose recordings the caller may see
    query: dict[str, dict[str, Any]] | None = None  # optional query parameters: their schemas
    accepts: str | None = None  # a body that is not JSON (e.g. application/sdp), sent as text


class RouteTable:
    """Collects routes with a decorator; ``install`` adds them to an aiohttp application."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: frozenset[Role],
        tag: str,
        body: type[BaseModel] | None = None,
        responses: dict[int, str] | None = None,
        content: str = "application/json",
        hidden: bool = False,
        scope: Scope | None = None,
        recordings: bool = False,
        query: dict[str, dict[str, Any]] | None = None,
        accepts: str | None = None,
    ) -> Callable[[CallHandler], CallHandler]:
        """Register a handler. ``hidden``: a caller of another role, or an API token without
        the scope, gets 404 (not 403), so a viewer cannot even learn that, say, a recording
        exists. ``scope``: an API token with this scope may call it too; routes without one
        refuse every token. ``recordings``: the route serves recordings, so ``{camera_id}``
        resolves only to a camera whose recordings the caller may see (404 otherwise).
        ``query``: the optional query parameters the handler reads, each with its JSON schema
        (and a ``description``), for the OpenAPI description. ``accepts``: the media type of a
        text body that is not JSON, which the handler reads itself."""

        def register(handler: CallHandler) -> CallHandler:
            self.routes.append(
                Route(
                    method,
                    path,
                    handler,
                    summary,
                    roles,
                    body,
                    responses or {200: "OK"},
                    tag,
                    content,
                    hidden,
                    scope,
                    recordings,
                    query,
                    accepts,
                )
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for route in self.routes:
            app.router.add_route(route.method, route.path, _guard(route))


def _guard(route: Route) -> RouteHandler:
    names_camera = "{camera_id}" in route.path

    async def guarded(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CTX]
        principal = None
        camera = None
        if route.roles:
            principal = ctx.authenticate(request)
            if principal is None:
                raise ApiError(
                    401,
                    "unauthenticated",
                    "log in first (POST /api/login) and send the session token",
                    headers={"WWW-Authenticate": 'Bearer realm="camera"'},
                )
            if principal.scopes is not None and (
                route.scope is None or route.scope not in principal.scopes
            ):
                if route.hidden:
                    raise ApiError(404, "not_found", "no such resource")
                raise ApiError(403, "token_scope", "this API token may not do this")
            if principal.role not in route.roles:
                if route.hidden:
                    raise ApiError(404, "not_found", "no such resource")
                raise ApiError(
                    403, "forbidden", f"{with_article(principal.role)} account cannot do this"
                )
            if names_camera:
                camera_id = request.match_info["camera_id"]
                if route.recordings:
                    camera = ctx.camera_for_recordings(principal, camera_id)
                else:
                    camera = ctx.camera_for_viewer(principal, camera_id)
        return await route.handler(Call(request, ctx, principal, camera))

    guarded.__name__ = route.handler.__name__
    return guarded


def openapi(table: RouteTable, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route in ``table``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for route in table.routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.handler.__name__.lstrip("_"),
            "tags": [route.tag],
            "responses": {},
        }
        path_params = re.findall(r"{(\w+)}", route.path)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in path_params
        ]
        for name, schema in (route.query or {}).items():
            described = {k: v for k, v in schema.items() if k != "description"}
            param = {"name": name, "in": "query", "required": False, "schema": described}
            if "description" in schema:
                param["description"] = schema["description"]
            params.append(param)
        if params:
            op["parameters"] = params
        if route.body is not None:
            name = route.body.__name__
            schema = route.body.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub, sub_schema in schema.pop("$defs", {}).items():
                schemas[sub] = sub_schema
            schemas[name] = schema
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            }
        elif route.accepts is not None:
            op["requestBody"] = {
                "required": True,
                "content": {route.accepts: {"schema": {"type": "string"}}},
            }
        for status, text in route.responses.items():
            op["responses"][str(status)] = _response(status, text, route.content, error_ref)
        for status, text in _errors(route, path_params).items():
            op["responses"].setdefault(str(status), _response(status, text, "", error_ref))
        op["security"] = [{"session": []}, {"cookie": []}] if route.roles else []
        if route.roles:
            op["description"] = "Roles: " + ", ".join(sorted(route.roles))
            if route.recordings and Role.FAMILY in route.roles:
                op["description"] += (
                    "; family viewers only for the cameras whose recordings the owner granted"
                    " them (404 otherwise)"
                )
            if route.hidden:
                op["description"] += "; any other caller gets 404, as for an unknown id"
        paths.setdefault(route.path, {})[route.method.lower()] = op
    schemas["Error"] = {
        "type": "object",
        "required": ["error", "reason"],
        "properties": {
            "error": {"type": "string", "description": "Stable error code."},
            "reason": {"type": "string", "description": "Why, in words."},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }


# Answers that carry no body (a range past the end of a file gets aiohttp's empty 416)
_BODYLESS = frozenset({204, 304, 416})


def _response(status: int, text: str, content: str, error_ref: dict[str, str]) -> dict[str, Any]:
    """One documented response: no body, the route's content, or (4xx/5xx) a JSON error."""
    if status in _BODYLESS:
        return {"description": text}
    if status >= 400:
        return {"description": text, "content": {"application/json": {"schema": error_ref}}}
    return {"description": text, "content": {content: {"schema": {}}}}


def _errors(route: Route, path_params: list[str]) -> dict[int, str]:
    """The refusals every route of its kind can give, whatever its handler adds: the guard's
    (401, 403, 404 for an unknown id in the path or a hidden route) and the body reader's."""
    errors: dict[int, str] = {}
    if route.body is not None:
        errors |= {
            400: "Malformed request",
            413: "Request body too large",
            415: "Body not sent as application/json",
            422: "Invalid input",
        }
    elif route.accepts is not None:
        errors |= {
            400: "Malformed request",
            413: "Request body too large",
            415: f"Body not sent as {route.accepts}",
        }
    if route.query:
        errors[422] = "Invalid input"
    if route.roles:
        errors |= {401: "Not logged in", 403: "Not allowed for this account or camera"}
    if path_params or route.hidden:
        errors[404] = "No such " + (
            " or ".join(p.removesuffix("_id") for p in path_params) or "resource"
        )
    return errors
