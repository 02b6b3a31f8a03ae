#!/usr/bin/env python3
"""WHIP front-end for a Janus VideoRoom relay: the camera publishes here, Janus fans out.

Janus 1.1 (the Debian package) has no WHIP endpoint of its own, so this small aiohttp server runs
next to it on the relay host and translates WHIP (RFC 9725) into the Janus HTTP API on loopback:

    POST   /whip/endpoint/<room>   Authorization: Bearer <token>, Content-Type: application/sdp
           → a Janus session + VideoRoom handle joins <room> as its publisher with the offer;
             201 Created, the answer SDP, Location: /whip/resource/<id>
    DELETE /whip/resource/<id>     (same token) → the publisher leaves, the Janus session goes
    PATCH  /whip/resource/<id>     → 405: no trickle ICE, the offer must carry its candidates

Viewers, if enabled (``--viewer-token-file``, or ``--public-viewers`` for an open audience), come
in through the same front-end, never through the Janus API (anyone who can drive that API can
also publish into a room). Janus 1.1 makes the offer for a subscription, so the viewer side is
WHEP with a server offer:

    POST   /whep/endpoint/<room>   (empty body) → 201, Janus's SDP offer, Location
    PATCH  /whep/resource/<id>     Content-Type: application/sdp, the viewer's answer → 204
    DELETE /whep/resource/<id>     → the subscription ends

When the camera's publication ends, the front-end ends its room's viewer sessions, so every
viewer's peer connection closes.

Errors: 401 bad or missing token, 400 malformed or audio-carrying SDP, 404 unknown room or
resource, 413 oversized body, 415 wrong content type, 502/503 Janus failed or is unreachable.

A new publication to a room replaces the room's previous one (the camera reconnecting after a
network drop must not find its own stale publisher in the way), and a publication whose media stops
for ``--idle-timeout`` seconds, or whose peer connection Janus reports hung up, is torn down, so the
room is free again. Keep-alives hold each Janus session open while its resource lives.

The front-end never sees media: Janus terminates the WebRTC connection. It listens on loopback
unless it is given a TLS certificate (``--certfile``/``--keyfile``): the bearer token must not cross
a network in the clear. See deploy/janus/README.md and docs/relay.md.

Usage::

    python whip_frontend.py --janus http://127.0.0.1:8088/janus --listen 127.0.0.1:8089 \\
        --token-file /etc/camera-relay/whip-token [--janus-secret-file F] [--room-pin-file F]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

log = logging.getLogger("whip_frontend")

MAX_SDP_BYTES = 64 * 1024
MIN_TOKEN_CHARS = 16
KEEPALIVE_S = 15.0  # Janus ends a session after 60 s (session_timeout) without a request
JANUS_TIMEOUT_S = 10.0  # for one Janus request or the event that answers it
IDLE_TIMEOUT_S = 30.0
ANSWER_TIMEOUT_S = 30.0  # a viewer that does not answer Janus's offer by then is dropped
MAX_VIEWERS = 200  # per room; Janus forwards, so this bounds the relay's upstream bandwidth

# Janus error codes (janus/apierror.h and the VideoRoom plugin) and what WHIP answers for them.
_JANUS_BAD_SDP = {464, 465}  # JSEP_UNKNOWN_TYPE, JSEP_INVALID_SDP
_VIDEOROOM_NO_SUCH_ROOM = 426
_VIDEOROOM_BAD_SDP = {429, 430, 431, 437}  # missing/invalid element, invalid SDP
_VIDEOROOM_UNAUTHORIZED = 433  # wrong room pin: the relay is misconfigured, not the caller
_VIDEOROOM_ROOM_FULL = 432


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


@dataclass
class Publication:
    """One WHIP resource: the camera publishing into a room through one Janus session."""

    id: str
    room: str
    janus: JanusSession
    feed: str = ""  # the publisher's id in the room, which viewers subscribe to
    idle_timer: asyncio.TimerHandle | None = None


@dataclass
class Subscription:
    """One viewer resource: a Janus subscriber to a room's publication."""

    id: str
    publication: str
    janus: JanusSession
    started: bool = False


class HttpError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_offer(sdp: str) -> None:
    """Refuse what is plainly not a video-only WebRTC offer before Janus sees it."""
    lines = [line.rstrip("\r") for line in sdp.split("\n") if line.strip()]
    if not lines or lines[0] != "v=0":
        raise HttpError(400, "the body is not an SDP offer (it must start with v=0)")
    if any(len(line) < 2 or line[1] != "=" for line in lines):
        raise HttpError(400, "the SDP has a malformed line")
    media = [line.split()[0][2:] for line in lines if line.startswith("m=")]
    if "video" not in media:
        raise HttpError(400, "the offer has no video section")
    if any(kind != "video" for kind in media):
        raise HttpError(400, "only video is accepted: no audio or data sections")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise HttpError(400, "the offer has no DTLS fingerprint")


class WhipFrontend:
    """The WHIP endpoint and its resources, in front of one Janus instance."""

    def __init__(
        self,
        janus_url: str,
        token: str,
        *,
        janus_secret: str | None = None,
        room_pin: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        viewer_token: str | None = None,
        public_viewers: bool = False,
        max_viewers: int = MAX_VIEWERS,
    ) -> None:
        for name, value in (("WHIP", token), ("viewer", viewer_token)):
            if value is not None and len(value) < MIN_TOKEN_CHARS:
                raise ValueError(
                    f"the {name} token must have at least {MIN_TOKEN_CHARS} characters"
                )
        if viewer_token is not None and viewer_token == token:
            raise ValueError("the viewer token must differ from the publisher's token")
        self._janus_url = janus_url
        self._token = token.encode()
        self._viewer_token = viewer_token.encode() if viewer_token is not None else None
        self._public_viewers = public_viewers
        self._max_viewers = max_viewers
        self._janus_secret = janus_secret
        self._room_pin = room_pin
        self._idle_timeout = idle_timeout
        self._http: aiohttp.ClientSession | None = None
        self.publications: dict[str, Publication] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._by_room: dict[str, str] = {}
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_SDP_BYTES)
        app.router.add_post("/whip/endpoint/{room}", self._publish)
        app.router.add_delete("/whip/resource/{id}", self._unpublish)
        app.router.add_patch("/whip/resource/{id}", self._patch)
        app.router.add_post("/whep/endpoint/{room}", self._subscribe)
        app.router.add_patch("/whep/resource/{id}", self._answer)
        app.router.add_delete("/whep/resource/{id}", self._unsubscribe)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _startup(self, _app: web.Application) -> None:
        self._http = aiohttp.ClientSession()

    async def _shutdown(self, _app: web.Application) -> None:
        await asyncio.gather(*(self._end_viewer(s, "shutdown") for s in list(self.subscriptions)))
        await asyncio.gather(
            *(self._end(p.id, "shutdown") for p in list(self.publications.values()))
        )
        if self._http is not None:
            await self._http.close()

    # -- request handling -------------------------------------------------------------------

    def _authorised(self, request: web.Request, token: bytes | None = None) -> bool:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            return False
        return hmac.compare_digest(credentials.strip().encode(), token or self._token)

    def _viewer_refusal(self, request: web.Request) -> web.Response | None:
        if self._public_viewers:
            return None
        if self._viewer_token is None:
            return self._refuse(404, "this relay has no viewer endpoint")
        if not self._authorised(request, self._viewer_token):
            return self._refuse(401, "a valid viewer token is required")
        return None

    @staticmethod
    def _refuse(status: int, reason: str) -> web.Response:
        headers = {"WWW-Authenticate": 'Bearer realm="whip"'} if status == 401 else None
        return web.Response(status=status, text=reason + "\n", headers=headers)

    async def _publish(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        if not self._authorised(request):
            log.warning("refused a publish to %r from %s: bad token", room, request.remote)
            return self._refuse(401, "a valid bearer token is required")
        if request.content_type != "application/sdp":
            return self._refuse(415, "the offer must be application/sdp")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, "the SDP offer is too large")
        try:
            offer = body.decode("utf-8")
            check_offer(offer)
            lock = self._room_locks.setdefault(room, asyncio.Lock())
            async with lock:  # one publish per room at a time: the newest replaces the last
                previous = self._by_room.get(room)
                if previous is not None:
                    await self._end(previous, "replaced by a new publication")
                publication, answer = await self._join(room, offer)
        except UnicodeDecodeError:
            return self._refuse(400, "the SDP offer is not UTF-8")
        except HttpError as err:
            log.info("refused a publish to %r: %d %s", room, err.status, err.reason)
            return self._refuse(err.status, err.reason)
        location = f"/whip/resource/{publication.id}"
        log.info("room %r: publication %s started", room, publication.id[:8])
        return web.Response(
            status=201,
            text=answer,
            content_type="application/sdp",
            headers={"Location": location},
        )

    async def _join(self, room: str, offer: str) -> tuple[Publication, str]:
        assert self._http is not None
        publication_id = secrets.token_urlsafe(18)
        janus = JanusSession(
            self._http,
            self._janus_url,
            self._janus_secret,
            on_event=lambda event: self._janus_event(publication_id, event),
        )
        try:
            await janus.open("janus.plugin.videoroom")
            body: dict[str, Any] = {
                "request": "joinandconfigure",
                "room": room,
                "ptype": "publisher",
                "display": "camera",
            }
            if self._room_pin is not None:
                body["pin"] = self._room_pin
            data, jsep = await janus.message(body, {"type": "offer", "sdp": offer})
            if not jsep or jsep.get("type") != "answer" or not jsep.get("sdp"):
                raise HttpError(502, "the relay gave no SDP answer")
        except BaseException as err:
            await janus.destroy()
            if isinstance(err, JanusError):
                raise _http_error(err) from None
            if isinstance(err, aiohttp.ClientError | OSError):
                log.error("Janus is unreachable at %s: %s", self._janus_url, err)
                raise HttpError(503, "the relay is not available") from None
            if isinstance(err, TimeoutError):
                raise HttpError(504, "the relay did not answer in time") from None
            raise
        publication = Publication(publication_id, room, janus, feed=str(data.get("id", "")))
        self.publications[publication_id] = publication
        self._by_room[room] = publication_id
        return publication, str(jsep["sdp"])

    async def _unpublish(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(401, "a valid bearer token is required")
        publication_id = request.match_info["id"]
        if publication_id not in self.publications:
            return self._refuse(404, "no such resource")
        await self._end(publication_id, "deleted by the publisher")
        return web.Response(status=200)

    async def _patch(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._refuse(401, "a valid bearer token is required")
        return web.Response(
            status=405,
            text="trickle ICE and ICE restarts are not supported\n",
            headers={"Allow": "DELETE"},
        )

    # -- viewers ----------------------------------------------------------------------------

    async def _subscribe(self, request: web.Request) -> web.Response:
        refused = self._viewer_refusal(request)
        if refused is not None:
            return refused
        if await request.read():
            return self._refuse(
                400,
                "send an empty body: the relay makes the offer, PATCH the resource with the answer",
            )
        room = request.match_info["room"]
        publication = self.publications.get(self._by_room.get(room, ""))
        if publication is None:
            return self._refuse(404, "the room has no stream now")
        watching = [s for s in self.subscriptions.values() if s.publication == publication.id]
        if len(watching) >= self._max_viewers:
            return self._refuse(503, "the room has its maximum of viewers")
        try:
            subscription, offer = await self._join_viewer(publication)
        except HttpError as err:
            return self._refuse(err.status, err.reason)
        return web.Response(
            status=201,
            text=offer,
            content_type="application/sdp",
            headers={"Location": f"/whep/resource/{subscription.id}"},
        )

    async def _join_viewer(self, publication: Publication) -> tuple[Subscription, str]:
        assert self._http is not None
        subscription_id = secrets.token_urlsafe(18)
        janus = JanusSession(
            self._http,
            self._janus_url,
            self._janus_secret,
            on_event=lambda event: self._viewer_event(subscription_id, event),
        )
        body: dict[str, Any] = {
            "request": "join",
            "room": publication.room,
            "ptype": "subscriber",
            "streams": [{"feed": publication.feed}],
        }
        if self._room_pin is not None:
            body["pin"] = self._room_pin
        try:
            await janus.open("janus.plugin.videoroom")
            _data, jsep = await janus.message(body)
            if not jsep or jsep.get("type") != "offer" or not jsep.get("sdp"):
                raise HttpError(502, "the relay made no SDP offer")
        except BaseException as err:
            await janus.destroy()
            if isinstance(err, JanusError):
                log.error("Janus refused a subscription: %s", err)
                raise HttpError(502, "the relay failed to set up the subscription") from None
            if isinstance(err, aiohttp.ClientError | OSError | TimeoutError):
                raise HttpError(503, "the relay is not available") from None
            raise
        if publication.id not in self.publications:  # it ended while Janus was answering
            await janus.destroy()
            raise HttpError(404, "the room has no stream now")
        subscription = Subscription(subscription_id, publication.id, janus)
        self.subscriptions[subscription_id] = subscription
        asyncio.get_running_loop().call_later(ANSWER_TIMEOUT_S, self._unanswered, subscription_id)
        log.info("room %r: viewer %s joined", publication.room, subscription_id[:8])
        return subscription, str(jsep["sdp"])

    def _unanswered(self, subscription_id: str) -> None:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is not None and not subscription.started:
            self._end_viewer_later(subscription_id, "no answer in time")

    async def _answer(self, request: web.Request) -> web.Response:
        refused = self._viewer_refusal(request)
        if refused is not None:
            return refused
        subscription = self.subscriptions.get(request.match_info["id"])
        if subscription is None:
            return self._refuse(404, "no such resource")
        if request.content_type != "application/sdp":
            return self._refuse(415, "the answer must be application/sdp")
        if subscription.started:
            return self._refuse(409, "the answer was already given")
        try:
            answer = (await request.read()).decode("utf-8")
            if not answer.startswith("v=0"):
                raise HttpError(400, "the body is not an SDP answer")
            await subscription.janus.message(
                {"request": "start"}, {"type": "answer", "sdp": answer}
            )
        except UnicodeDecodeError:
            return self._refuse(400, "the SDP answer is not UTF-8")
        except HttpError as err:
            return self._refuse(err.status, err.reason)
        except JanusError as err:
            return self._refuse(400, f"the relay refused the answer: {err.reason}")
        except (aiohttp.ClientError, OSError, TimeoutError):
            return self._refuse(503, "the relay is not available")
        subscription.started = True
        return web.Response(status=204)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        refused = self._viewer_refusal(request)
        if refused is not None:
            return refused
        subscription_id = request.match_info["id"]
        if subscription_id not in self.subscriptions:
            return self._refuse(404, "no such resource")
        await self._end_viewer(subscription_id, "deleted by the viewer")
        return web.Response(status=200)

    async def _end_viewer(self, subscription_id: str, reason: str) -> None:
        subscription = self.subscriptions.pop(subscription_id, None)
        if subscription is None:
            return
        await subscription.janus.destroy()  # Janus hangs up the viewer's peer connection
        log.info("viewer %s ended: %s", subscription_id[:8], reason)

    def _viewer_event(self, subscription_id: str, event: dict[str, Any]) -> None:
        if subscription_id in self.subscriptions and event.get("janus") in (
            "hangup",
            "detached",
            "session_gone",
        ):
            self._end_viewer_later(subscription_id, "its connection ended")

    def _end_viewer_later(self, subscription_id: str, reason: str) -> None:
        task = asyncio.create_task(self._end_viewer(subscription_id, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # -- publication life -------------------------------------------------------------------

    async def _end(self, publication_id: str, reason: str) -> None:
        publication = self.publications.pop(publication_id, None)
        if publication is None:
            return
        if self._by_room.get(publication.room) == publication_id:
            del self._by_room[publication.room]
        if publication.idle_timer is not None:
            publication.idle_timer.cancel()
        viewers = [s.id for s in self.subscriptions.values() if s.publication == publication_id]
        await asyncio.gather(
            *(self._end_viewer(s, "the camera stopped publishing") for s in viewers)
        )
        with contextlib.suppress(JanusError, aiohttp.ClientError, TimeoutError):
            await publication.janus.message({"request": "leave"})
        await publication.janus.destroy()
        log.info("room %r: publication %s ended: %s", publication.room, publication_id[:8], reason)

    def _end_later(self, publication_id: str, reason: str) -> None:
        task = asyncio.create_task(self._end(publication_id, reason))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _janus_event(self, publication_id: str, event: dict[str, Any]) -> None:
        """Janus tells about the publisher's peer connection: drop it when it is gone."""
        publication = self.publications.get(publication_id)
        kind = event.get("janus")
        if kind == "webrtcup":
            log.info("publication %s: media connected", publication_id[:8])
        if publication is None:
            return
        if kind in ("hangup", "detached", "session_gone"):
            self._end_later(publication_id, f"Janus reported {kind}: {event.get('reason', '')}")
        elif kind == "media" and event.get("type") == "video":
            if event.get("receiving"):
                if publication.idle_timer is not None:
                    publication.idle_timer.cancel()
                    publication.idle_timer = None
            elif publication.idle_timer is None:
                publication.idle_timer = asyncio.get_running_loop().call_later(
                    self._idle_timeout,
                    self._end_later,
                    publication_id,
                    f"no video for {self._idle_timeout:g} s",
                )


def _http_error(err: JanusError) -> HttpError:
    if err.code == _VIDEOROOM_NO_SUCH_ROOM:
        return HttpError(404, "no such room")
    if err.code in _JANUS_BAD_SDP or err.code in _VIDEOROOM_BAD_SDP:
        return HttpError(400, f"the relay refused the offer: {err.reason}")
    if err.code == _VIDEOROOM_ROOM_FULL:
        return HttpError(409, "the room already has a publisher")
    if err.code == _VIDEOROOM_UNAUTHORIZED:
        log.error("Janus refused the room pin: check --room-pin-file against the room's pin")
    else:
        log.error("Janus failed: %s", err)
    return HttpError(502, "the relay failed to set up the publication")


# -- command line ---------------------------------------------------------------------------


def _read_secret(path: Path, what: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SystemExit(f"cannot read the {what} file {path}: {err.strerror}") from None
    if not value:
        raise SystemExit(f"the {what} file {path} is empty")
    return value


def _parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:8089")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--janus", required=True, help="Janus HTTP API, e.g. http://127.0.0.1:8088/janus"
    )
    parser.add_argument(
        "--listen", type=_parse_listen, default=("127.0.0.1", 8089), help="HOST:PORT"
    )
    parser.add_argument(
        "--token-file", type=Path, required=True, help="the publisher's bearer token"
    )
    parser.add_argument("--janus-secret-file", type=Path, help="Janus api_secret, if set")
    parser.add_argument("--room-pin-file", type=Path, help="the rooms' pin, if set")
    parser.add_argument("--certfile", type=Path, help="TLS certificate chain (PEM)")
    parser.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT_S,
        help="end a publication after this many seconds without video",
    )
    parser.add_argument(
        "--viewer-token-file", type=Path, help="enable viewers with this bearer token"
    )
    parser.add_argument(
        "--public-viewers", action="store_true", help="enable viewers without a token"
    )
    parser.add_argument("--max-viewers", type=int, default=MAX_VIEWERS, help="per room")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, port = args.listen
    context: ssl.SSLContext | None = None
    if args.certfile or args.keyfile:
        if not (args.certfile and args.keyfile):
            parser.error("--certfile and --keyfile go together")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(args.certfile, args.keyfile)
    elif not _is_loopback(host):
        parser.error(
            f"refusing to listen on {host} without TLS: the bearer token would cross the network "
            "in the clear (give --certfile/--keyfile, or listen on loopback behind a TLS proxy)"
        )
    janus_host = URL(args.janus).host or ""
    if not _is_loopback(janus_host):
        log.warning(
            "Janus at %s is not on loopback: its HTTP API should not leave the host", janus_host
        )
    token = _read_secret(args.token_file, "token")
    try:
        frontend = WhipFrontend(
            args.janus,
            token,
            janus_secret=_read_secret(args.janus_secret_file, "Janus secret")
            if args.janus_secret_file
            else None,
            room_pin=_read_secret(args.room_pin_file, "room pin") if args.room_pin_file else None,
            idle_timeout=args.idle_timeout,
            viewer_token=_read_secret(args.viewer_token_file, "viewer token")
            if args.viewer_token_file
            else None,
            public_viewers=args.public_viewers,
            max_viewers=args.max_viewers,
        )
    except ValueError as err:
        parser.error(str(err))
    scheme = "https" if context else "http"
    log.info("WHIP endpoint: %s://%s:%d/whip/endpoint/<room>", scheme, host, port)
    web.run_app(
        frontend.app(),
        host=host,
        port=port,
        ssl_context=context,
        print=None,
        access_log_format='%a "%r" %s %b',
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
