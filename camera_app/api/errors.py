"""JSON errors: every refusal is ``{"error": code, "reason": words}`` with a 4xx/5xx status."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """Raised by handlers; becomes a JSON error response."""

    def __init__(
        self,
        status: int,
        code: str,
        reason: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason
        self.extra = extra or {}
        self.headers = headers or {}


def error_response(
    status: int,
    code: str,
    reason: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": code, "reason": reason, **(extra or {})}
    return web.json_response(body, status=status, headers=headers)


def validation_problems(err: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as ``[{"field": "a.b", "problem": "..."}]`` without echoing input."""
    out = []
    for e in err.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"]) or "(body)"
        out.append({"field": loc, "problem": e["msg"].removeprefix("Value error, ")})
    return out


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error; never a traceback or an HTML page."""
    try:
        return await handler(request)
    except ApiError as err:
        return error_response(err.status, err.code, err.reason, err.extra, err.headers)
    except ValidationError as err:
        problems = validation_problems(err)
        first = problems[0]
        return error_response(
            422,
            "invalid_input",
            f"{first['field']}: {first['problem']}",
            {"problems": problems},
        )
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "too_large", "request body is too large")
    except web.HTTPException as err:
        if err.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(err.status, "http_error")
        return error_response(err.status, code, err.reason, headers=_allow_header(err))
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the device log")


def _allow_header(err: web.HTTPException) -> dict[str, str] | None:
    allow = err.headers.get("Allow") if err.headers else None
    return {"Allow": allow} if allow else None


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request body validated against ``model`` (JSON rules: ISO dates are strings).

    Bad JSON is a 400 and a body that does not fit the model a 422, both saying why.
    """
    raw = await _raw_json(request)
    return model.model_validate_json(raw)


async def _raw_json(request: web.Request) -> bytes:
    """The request body, checked to be a JSON document; 400/415 saying what is wrong."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()
    if not raw:
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "the body is not UTF-8") from None
    except json.JSONDecodeError as err:
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON (line {err.lineno}: {err.msg})"
        ) from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    except ValueError as err:  # e.g. an integer literal longer than Python converts
        raise ApiError(400, "invalid_json", f"the body is not acceptable JSON: {err}") from None
    return raw
