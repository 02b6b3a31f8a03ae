"""What the relay's WHIP front-end and its marker share: a client of the Janus HTTP API (one
session with one VideoRoom handle), the names they give publishers in a room, and the reading
of their secret files.

Installed on the relay host beside ``whip_frontend.py`` and ``marker.py`` (each imports it from
its own directory; see deploy/janus/README.md); not a package of the camera's repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger("janusapi")

KEEPALIVE_S = 15.0  # Janus ends a session after 60 s (session_timeout) without a request
JANUS_TIMEOUT_S = 10.0  # for one Janus request or the event that answers it
CAMERA_DISPLAY = "camera"  # the camera's publisher in its room
MAX_MARK_GROUPS = 7  # the room's publishers (8 in janus.plugin.videoroom.jcfg) less the camera


def mark_display(group: int, groups: int, source: str) -> str:
    """How ``marker.py`` names (Janus ``display``) group ``group``'s copy of the camera's feed
    ``source`` when it makes ``groups`` copies: a copy of an earlier publication of the camera is
    never taken for a current one, and a front-end whose ``--mark-groups`` is not the marker's
    ``--groups`` sees it (:func:`read_mark_display`). Its publisher id changes every time the
    marker publishes it, so a viewer left on a copy that went away is seen
    (``WhipFrontend._check_marker``)."""
    return f"mark-{group}/{groups} of {source}"


@dataclass(frozen=True, slots=True)
class MarkCopy:
    """A marked copy as its publisher's display names it (:func:`mark_display`)."""

    group: int
    groups: int
    source: str


_MARK_DISPLAY = re.compile(r"mark-(\d+)/(\d+) of (.+)")


def read_mark_display(display: str) -> MarkCopy | None:
    """The copy a publisher's ``display`` names, or None when it is not a marked copy."""
    match = _MARK_DISPLAY.fullmatch(display)
    if match is None:
        return None
    return MarkCopy(int(match[1]), int(match[2]), match[3])


def read_secret(path: Path, what: str) -> str:
    """The secret in ``path`` (a token, the Janus API secret, the room pin), stripped; exits
    with a clear message when the file cannot be read or is empty."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SystemExit(f"cannot read the {what} file {path}: {err.strerror}") from None
    if not value:
        raise SystemExit(f"the {what} file {path} is empty")
    return value


class JanusError(Exception):
    """Janus answered a request with an error (``code`` is its numeric error code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusSession:
    """One Janus session with one VideoRoom handle, spoken to over the Janus HTTP API.

    Asynchronous answers and events arrive on the session's long poll (``GET /janus/<session>``),
    which runs as a task for the session's whole life; a second task sends keep-alives.
    ``on_event`` gets every event that answers no request (hangup, media, webrtcup, ...).
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        api_secret: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._secret = api_secret
        self._on_event = on_event
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._destroyed = False

    async def open(self, plugin: str) -> None:
        """Create the session, attach ``plugin`` and start the long poll and keep-alives."""
        reply = await self._post(self._base, {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        reply = await self._post(self._session_url, {"janus": "attach", "plugin": plugin})
        self.handle_id = int(reply["data"]["id"])
        self._tasks = [
            asyncio.create_task(self._poll(), name=f"janus-poll-{self.session_id}"),
            asyncio.create_task(self._keepalive(), name=f"janus-keepalive-{self.session_id}"),
        ]

    @property
    def _session_url(self) -> str:
        return f"{self._base}/{self.session_id}"

    async def message(
        self, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin request; returns the plugin's data and the JSEP of its answer, if any.

        Synchronous requests are answered in the HTTP response; the others are acknowledged
        there and answered by an event on the long poll with the same transaction."""
        transaction = secrets.token_hex(8)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = waiter
        try:
            payload: dict[str, Any] = {"janus": "message", "body": body}
            if jsep is not None:
                payload["jsep"] = jsep
            reply = await self._post(
                f"{self._session_url}/{self.handle_id}", payload, transaction=transaction
            )
            if reply.get("janus") == "ack":
                reply = await asyncio.wait_for(waiter, JANUS_TIMEOUT_S)
        finally:
            self._pending.pop(transaction, None)
        data = reply.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return data, reply.get("jsep")

    async def destroy(self) -> None:
        """End the session (Janus detaches the handle and hangs up its peer connection)."""
        if self._destroyed:
            return
        self._destroyed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session_id is not None:
            try:
                await self._post(self._session_url, {"janus": "destroy"})
            except (JanusError, aiohttp.ClientError, TimeoutError) as err:
                # Janus frees it anyway after session_timeout without keep-alives
                log.warning("could not destroy Janus session %s: %s", self.session_id, err)

    async def _post(
        self, url: str, body: dict[str, Any], transaction: str | None = None
    ) -> dict[str, Any]:
        payload = {**body, "transaction": transaction or secrets.token_hex(8)}
        if self._secret is not None:
            payload["apisecret"] = self._secret
        timeout = aiohttp.ClientTimeout(total=JANUS_TIMEOUT_S)
        async with self._http.post(url, json=payload, timeout=timeout) as response:
            reply = await response.json(content_type=None)
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return reply

    async def _poll(self) -> None:
        params = {"maxev": "10"}
        if self._secret is not None:
            params["apisecret"] = self._secret
        # Janus holds a long poll for 30 s before it answers with a keep-alive
        timeout = aiohttp.ClientTimeout(total=60)
        while True:
            try:
                async with self._http.get(
                    self._session_url, params=params, timeout=timeout
                ) as response:
                    reply = await response.json(content_type=None)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                log.warning("Janus long poll for session %s failed: %s", self.session_id, err)
                await asyncio.sleep(1)
                continue
            for event in reply if isinstance(reply, list) else [reply]:
                self._dispatch(event)
            if isinstance(reply, dict) and reply.get("janus") == "error":
                code = reply.get("error", {}).get("code")
                log.warning("Janus session %s is gone (error %s)", self.session_id, code)
                if self._on_event is not None:
                    self._on_event({"janus": "session_gone"})
                return

    def _dispatch(self, event: dict[str, Any]) -> None:
        waiter = self._pending.get(str(event.get("transaction")))
        if waiter is not None and event.get("janus") != "ack" and not waiter.done():
            waiter.set_result(event)
        elif event.get("janus") != "keepalive" and self._on_event is not None:
            self._on_event(event)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            try:
                await self._post(self._session_url, {"janus": "keepalive"})
            except (JanusError, aiohttp.ClientError, TimeoutError) as err:
                log.warning("keep-alive for Janus session %s failed: %s", self.session_id, err)
