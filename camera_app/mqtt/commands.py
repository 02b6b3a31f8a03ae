"""Commands that arrive over MQTT: validated (schema, size, rate) before anything is done.

A command is a message on ``<prefix>/<device>/cmd/<name>`` whose payload is a JSON object (or
empty). Anything else (an unknown name, a payload that is too big, not UTF-8, not JSON, with
unknown keys or wrong types, or a command over the rate limit) is refused with a logged reason
and an answer on the response topic, and changes nothing. Starting a live stream is not a
command: only the owner, through the streaming gates, can start one.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from firmware.configbase import StrictModel

MAX_PAYLOAD_BYTES = 1024
_REQUEST_ID = r"^[A-Za-z0-9_.:-]{1,64}$"
_CAMERA_ID = r"^[A-Za-z0-9_-]{1,64}$"
_STARTS = ("start_stream", "start", "stream", "start_live")


class _Body(StrictModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    request_id: str | None = Field(default=None, pattern=_REQUEST_ID)


class ArmBody(_Body):
    pass


class SnapshotBody(_Body):
    camera: str | None = Field(default=None, pattern=_CAMERA_ID)


class StopStreamBody(_Body):
    camera: str | None = Field(default=None, pattern=_CAMERA_ID)


_BODIES: dict[str, type[_Body]] = {
    "arm": ArmBody,
    "disarm": ArmBody,
    "snapshot": SnapshotBody,
    "stop_stream": StopStreamBody,
}
CommandName = Literal["arm", "disarm", "snapshot", "stop_stream"]


@dataclass(frozen=True, slots=True)
class Command:
    name: CommandName
    body: _Body

    @property
    def request_id(self) -> str | None:
        return self.body.request_id

    @property
    def camera(self) -> str | None:
        return getattr(self.body, "camera", None)


@dataclass(frozen=True, slots=True)
class Refusal:
    name: str
    request_id: str | None
    error: str  # a stable code
    reason: str


class RateLimiter:
    """A token bucket: ``per_minute`` commands a minute, in bursts of at most that many."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._tokens = float(per_minute)
        self._rate = per_minute / 60.0
        self._monotonic = monotonic
        self._last = monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def parse(name: str, payload: bytes | bytearray, limiter: RateLimiter) -> Command | Refusal:
    """Validate one command message; never raises."""
    if not limiter.allow():
        return Refusal(name[:64], None, "rate_limited", "too many commands; try again later")
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Refusal(name[:64], None, "too_large", f"payload over {MAX_PAYLOAD_BYTES} bytes")
    data = _json_object(payload)
    request_id = _request_id(data)
    if name in _STARTS:
        return Refusal(
            name,
            request_id,
            "not_allowed",
            "a live stream cannot be started over MQTT; only the owner can start one, through "
            "the streaming gates",
        )
    body_type = _BODIES.get(name)
    if body_type is None:
        return Refusal(name[:64], request_id, "unknown_command", f"no command {name[:64]!r}")
    if isinstance(data, str):
        return Refusal(name, request_id, "invalid_payload", data)
    try:
        body = body_type.model_validate(data)
    except ValidationError as err:
        problem = err.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "(payload)"
        return Refusal(name, request_id, "invalid_payload", f"{where}: {problem['msg']}")
    return Command(name, body)  # type: ignore[arg-type]


def _json_object(payload: bytes | bytearray) -> dict[str, Any] | str:
    """The payload as an object, or a string saying why it is not one."""
    if not payload.strip():
        return {}
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "the payload is not UTF-8"
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return "the payload is not JSON"
    if not isinstance(data, dict):
        return "the payload must be a JSON object"
    return data


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _request_id(data: dict[str, Any] | str) -> str | None:
    """The request id to echo, only if it is a well-formed one."""
    value = data.get("request_id") if isinstance(data, dict) else None
    if isinstance(value, str) and re.fullmatch(_REQUEST_ID, value):
        return value
    return None


def response(
    name: str,
    request_id: str | None,
    *,
    ok: bool,
    error: str | None = None,
    reason: str | None = None,
    result: dict[str, Any] | None = None,
) -> bytes:
    return json.dumps(
        {
            "request_id": request_id,
            "command": name,
            "ok": ok,
            "error": error,
            "reason": reason,
            "result": result,
        },
        ensure_ascii=False,
    ).encode()
