#!/usr/bin/env python3
"""WHIP front-end for a Janus VideoRoom relay: the camera publishes here, Janus fans out.

Janus 1.1 (the Debian package) has no WHIP endpoint of its own, so this small aiohttp server runs
next to it on the relay host and translates WHIP (RFC 9725) into the Janus HTTP API on loopback:

    POST   /whip/endpoint/<room>   Authorization: Bearer <token>, Content-Type: application/sdp
           → a Janus session + VideoRoom handle joins <room> as its publisher with the offer;
             201 Created, the answer SDP, Location: /whip/resource/<id>
    DELETE /whip/resource/<id>     (same token) → the publisher leaves, the Janus session goes
    PATCH  /whip/resource/<id>     → 405: no trickle ICE, the offer must carry its candidates

The token is the relay's (``--token-file``: every room) or a device's own (``--room-token-file
kg-a,kg-b=FILE``: those rooms only; 403 elsewhere, for publishing and for ending a publication),
so that one device cannot put its picture into, or take down, another device's room.

Viewers come in through the same front-end, never through the Janus API (anyone who can drive
that API can also publish into a room), each with a **ticket** the device signed for them alone
and for one camera (a JWT, EdDSA/Ed25519; ``camera_app/live/tickets.py`` on the device). The
front-end is installed with the devices' public keys (``--ticket-key-file``, from
``camera-app relay-key``) and its own origin (``--audience``). Janus 1.1 makes the offer for a
subscription, so the viewer side is WHEP with a server offer:

    POST   /whep/endpoint/<room>   Authorization: Bearer <ticket>, empty body
           → 201, Janus's SDP offer, Location: /whep/resource/<id>
    PATCH  /whep/resource/<id>     (the viewer's ticket) Content-Type: application/sdp, the answer
           → 204
    POST   /whep/resource/<id>/renew  (a fresh ticket of the same viewer and camera) → 204
    DELETE /whep/resource/<id>     (the viewer's ticket) → the subscription ends
    POST   /whip/revocations       Authorization: Bearer <the device's signed revocation list>
           → 200; the sessions of revoked tickets end at once

With ``--mark-groups G``, a viewer whose ticket carries a ``mark`` claim watches one of the G
marked copies that ``marker.py`` publishes into the room (``janusapi.mark_display``), moved to
another group every ``--mark-period`` by :func:`mark_group` and logged to ``--mark-log``
(:class:`MarkSchedule`), so that ``trace.py`` names them from a recording. Without the copies
such a viewer is refused (503) or ended, never given the camera's unmarked feed.

A ticket is checked at subscribe (signature by an installed key, ``aud``, the room == ``cam``,
``exp``, not revoked) and again every :data:`CHECK_INTERVAL_S` for every live viewer: a session
whose ticket expired (the end of the viewer's window) or was revoked is ended (its Janus handle
torn down, so the viewer's media stops) within a second.

When the camera's publication ends, the front-end ends its room's viewer sessions, so every
viewer's peer connection closes.

Errors: 401 bad or missing token or ticket (forged, unknown key, another relay, expired), 403 a
ticket for another room, revoked, or from before the device restarted, 400 malformed or
audio-carrying SDP, 404 unknown room or resource, 413 oversized body, 415 wrong content type,
502/503 Janus failed or is unreachable.

A new publication to a room replaces the room's previous one (the camera reconnecting after a
network drop must not find its own stale publisher in the way), and a publication whose media stops
for ``--idle-timeout`` seconds, or whose peer connection Janus reports hung up, is torn down, so the
room is free again. Keep-alives hold each Janus session open while its resource lives.

The front-end never sees media: Janus terminates the WebRTC connection. It listens on loopback
unless it is given a TLS certificate (``--certfile``/``--keyfile``): the bearer token must not cross
a network in the clear. See deploy/janus/README.md and docs/relay.md.

Usage::

    python whip_frontend.py --janus http://127.0.0.1:8088/janus --listen 127.0.0.1:8089 \\
        --token-file /etc/camera-relay/whip-token | --room-token-file ROOM,ROOM=FILE ... \
        [--janus-secret-file F] [--room-pin-file F] \\
        [--ticket-key-file DEVICE.pem ... --audience https://relay.example.org]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from janusapi import (
    CAMERA_DISPLAY,
    MAX_MARK_GROUPS,
    JanusError,
    JanusSession,
    read_mark_display,
    read_secret,
)
from yarl import URL

log = logging.getLogger("whip_frontend")

MAX_SDP_BYTES = 64 * 1024
MIN_TOKEN_CHARS = 16
IDLE_TIMEOUT_S = 30.0
ANSWER_TIMEOUT_S = 30.0  # a viewer that does not answer Janus's offer by then is dropped
MAX_VIEWERS = 200  # per room; Janus forwards, so this bounds the relay's upstream bandwidth
CHECK_INTERVAL_S = 0.2  # every live viewer's ticket is re-checked this often (cut-off < 1 s)
MAX_TICKET_CHARS = 4096
TICKET_CLAIMS = ["iss", "aud", "cam", "sub", "iat", "exp", "jti"]
MARK_PERIOD_S = 60.0  # a marked viewer moves to another group's copy this often
MARKER_CHECK_S = 1.0  # how often the marker's copies of rooms with marked viewers are looked up
MARKER_DOWN = (
    "the marked stream is not available now (the relay's marker is not running): a viewer to be"
    " marked never gets the unmarked one"
)
MARKER_MISMATCH = (
    "the marked stream is not available now (the relay's marker makes another number of groups"
    " than its front-end expects): a viewer to be marked never gets the unmarked one"
)

# Janus error codes (janus/apierror.h and the VideoRoom plugin) and what WHIP answers for them.
_JANUS_BAD_SDP = {464, 465}  # JSEP_UNKNOWN_TYPE, JSEP_INVALID_SDP
_VIDEOROOM_NO_SUCH_ROOM = 426
_VIDEOROOM_BAD_SDP = {429, 430, 431, 437}  # missing/invalid element, invalid SDP
_VIDEOROOM_UNAUTHORIZED = 433  # wrong room pin: the relay is misconfigured, not the caller
_VIDEOROOM_ROOM_FULL = 432
_VIDEOROOM_NO_SUCH_FEED = 428


def mark_group(index: int, period: int, groups: int) -> int:
    """The group of the marked viewer with place ``index`` (0 … G²-1) in ``period``.

    Place i = a + G·b watches group (a + (b + 1)·period) mod G: a line over Z_G, one per place.
    Two consecutive periods p, p+1 give the group g and its step (b + 1) mod G, hence a and b:
    exactly one place. Any two periods p, q do when p − q and G are coprime (every pair when G
    is prime). Places are given out in order, so the first G viewers (b = 0) move by one group
    every period and two of them are never in the same group."""
    a, b = index % groups, index // groups
    return (a + (b + 1) * period) % groups


class MarkSchedule:
    """Which marked viewer watches which group's copy, period by period, and its record.

    Each room's marked viewers hold a place (0 … G²-1, the lowest free one when they join);
    :func:`mark_group` maps place and period to a group. Every assignment — at join and at
    every period's start — is appended to ``log_path`` (JSON lines: the time, room, period,
    period length, G, group, place, and the viewer's ticket: ``jti``, ``sub``, ``mark``,
    ``iss``), so ``trace.py`` can name the viewer from the codes a recording shows. The file is
    only ever appended to and flushed at every line."""

    def __init__(self, groups: int, period_s: float, log_path: Path) -> None:
        if not 1 <= groups <= MAX_MARK_GROUPS:
            raise ValueError(f"--mark-groups must be 1 to {MAX_MARK_GROUPS}")
        if period_s < 1:
            raise ValueError("--mark-period must be at least 1 s")
        self.groups = groups
        self.period_s = period_s
        self._log = log_path.open("a", encoding="utf-8")  # open for the relay's life

    def period(self, now: float) -> int:
        return int(now // self.period_s)

    def place(self, taken: set[int]) -> int | None:
        """The lowest free place, or None when all G² are taken."""
        return next((i for i in range(self.groups**2) if i not in taken), None)

    def record(self, event: str, room: str, period: int, place: int, ticket: Ticket) -> int:
        """Log ``ticket``'s viewer in ``place`` for ``period``; returns their group."""
        group = mark_group(place, period, self.groups)
        entry = {
            "t": round(time.time(), 3),
            "event": event,
            "room": room,
            "period": period,
            "period_s": self.period_s,
            "groups": self.groups,
            "group": group,
            "place": place,
            "jti": ticket.jti,
            "sub": ticket.sub,
            "mark": ticket.mark,
            "iss": ticket.iss,
        }
        self._log.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._log.flush()
        return group

    def close(self) -> None:
        self._log.close()


@dataclass
class Publication:
    """One WHIP resource: the camera publishing into a room through one Janus session."""

    id: str
    room: str
    janus: JanusSession
    feed: str = ""  # the publisher's id in the room, which viewers subscribe to
    idle_timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class Ticket:
    """A viewer's checked ticket: who (``sub``, a login session id), which room, until when.

    ``mark`` is the label the device gives a viewer whose frames must be traceable: with
    ``--mark-groups`` such a viewer watches the marker's rotating group copies (never the
    camera's own feed), and the label is what the assignment log names them by."""

    jti: str
    sub: str
    cam: str
    exp: float
    iat: float
    kid: str
    iss: str
    mark: str | None = None


@dataclass
class Subscription:
    """One viewer resource: a Janus subscriber to a room's publication, and its ticket."""

    id: str
    publication: str
    janus: JanusSession
    ticket: Ticket
    started: bool = False
    place: int | None = None  # a marked viewer's place in the room's MarkSchedule
    group: int | None = None  # and the group whose copy they watch now
    feed: str = ""  # that copy's publisher id


@dataclass
class DeviceRevocations:
    """What one device (one ticket key) revoked: tickets by ``jti`` (kept until they expire)
    and every ticket issued before ``not_before`` (its current run's start)."""

    revoked: dict[str, float] = field(default_factory=dict)
    not_before: float = 0.0

    def refusal(self, ticket: Ticket) -> str | None:
        if ticket.jti in self.revoked:
            return "the ticket was revoked"
        if ticket.iat < self.not_before:
            return "the ticket is from before the camera restarted: get a new one"
        return None


def key_id(key: Ed25519PublicKey) -> str:
    """16 hex digits of the SHA-256 of the raw public key: a ticket's ``kid`` header."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def room_spec(option: str, spec: str) -> tuple[frozenset[str], Path]:
    """``ROOM,ROOM=PATH`` as (the rooms, the path); ``PATH`` alone: (no rooms, the path)."""
    if "=" not in spec:
        return frozenset(), Path(spec)
    bound, _, path = spec.partition("=")
    names = frozenset(r.strip() for r in bound.split(",") if r.strip())
    if not names or not path:
        raise ValueError(f"{option} {spec!r}: give ROOM,ROOM=PATH")
    return names, Path(path)


def load_ticket_keys(
    specs: list[str],
) -> tuple[dict[str, Ed25519PublicKey], dict[str, frozenset[str]]]:
    """The devices' public ticket keys (PEM, as ``camera-app relay-key`` prints), by key id,
    and the rooms each is bound to. A spec is ``PATH`` (the key is trusted for every room) or
    ``ROOM,ROOM=PATH`` (only for those rooms: a device's own cameras, so that one device's key
    cannot open another's rooms)."""
    keys: dict[str, Ed25519PublicKey] = {}
    rooms: dict[str, frozenset[str]] = {}
    for spec in specs:
        names, path = room_spec("--ticket-key-file", spec)
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as err:
            raise ValueError(f"cannot load the ticket key {path}: {err}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"the ticket key {path} is not an Ed25519 public key")
        kid = key_id(key)
        keys[kid] = key
        if names:
            rooms[kid] = rooms.get(kid, frozenset()) | names
    return keys, rooms


def load_room_tokens(specs: list[str]) -> dict[str, frozenset[str]]:
    """Each device's publisher token (``ROOM,ROOM=PATH``) and the rooms it may publish to."""
    tokens: dict[str, frozenset[str]] = {}
    for spec in specs:
        names, path = room_spec("--room-token-file", spec)
        if not names:
            raise ValueError(f"--room-token-file {spec!r}: name the device's rooms before '='")
        token = read_secret(path, "room token")
        tokens[token] = tokens.get(token, frozenset()) | names
    return tokens


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
        token: str | None,
        *,
        room_tokens: dict[str, frozenset[str]] | None = None,
        janus_secret: str | None = None,
        room_pin: str | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
        ticket_keys: dict[str, Ed25519PublicKey] | None = None,
        key_rooms: dict[str, frozenset[str]] | None = None,
        audience: str | None = None,
        max_viewers: int = MAX_VIEWERS,
        marks: MarkSchedule | None = None,
    ) -> None:
        if token is None and not room_tokens:
            raise ValueError("give the publishers' token (--token-file or --room-token-file)")
        for given in [token, *(room_tokens or {})]:
            if given is not None and len(given) < MIN_TOKEN_CHARS:
                raise ValueError(f"a WHIP token must have at least {MIN_TOKEN_CHARS} characters")
        if ticket_keys and not audience:
            raise ValueError("viewers' tickets need --audience (this relay's origin)")
        self._janus_url = janus_url
        self._token = token.encode() if token is not None else None  # publishes to every room
        self._room_tokens = [(t.encode(), rooms) for t, rooms in (room_tokens or {}).items()]
        self._ticket_keys = dict(ticket_keys or {})
        self._key_rooms = dict(key_rooms or {})  # a key without an entry: every room
        self._audience = audience
        self._max_viewers = max_viewers
        self._janus_secret = janus_secret
        self._room_pin = room_pin
        self._idle_timeout = idle_timeout
        self._http: aiohttp.ClientSession | None = None
        self.publications: dict[str, Publication] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.revocations: dict[str, DeviceRevocations] = {}  # by ticket key id
        self._by_room: dict[str, str] = {}
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._checker: asyncio.Task[None] | None = None
        self._marks = marks
        self._control: JanusSession | None = None  # looks up the marker's copies
        self._control_opening = asyncio.Lock()
        self._period = -1
        self._marker_checked = 0.0
        self._mismatched: set[str] = set()  # rooms whose copies are not in --mark-groups groups

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_SDP_BYTES)
        app.router.add_post("/whip/endpoint/{room}", self._publish)
        app.router.add_delete("/whip/resource/{id}", self._unpublish)
        app.router.add_patch("/whip/resource/{id}", self._patch)
        app.router.add_post("/whep/endpoint/{room}", self._subscribe)
        app.router.add_patch("/whep/resource/{id}", self._answer)
        app.router.add_delete("/whep/resource/{id}", self._unsubscribe)
        app.router.add_post("/whep/resource/{id}/renew", self._renew)
        app.router.add_post("/whip/revocations", self._revocations)
        app.router.add_route("OPTIONS", "/whep/{tail:.*}", self._preflight)
        app.middlewares.append(_cors)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        return app

    async def _startup(self, _app: web.Application) -> None:
        self._http = aiohttp.ClientSession()
        self._checker = asyncio.create_task(self._check_tickets(), name="ticket-check")

    async def _shutdown(self, _app: web.Application) -> None:
        if self._checker is not None:
            self._checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checker
        await asyncio.gather(*(self._end_viewer(s, "shutdown") for s in list(self.subscriptions)))
        await asyncio.gather(
            *(self._end(p.id, "shutdown") for p in list(self.publications.values()))
        )
        if self._control is not None:
            await self._control.destroy()
        if self._http is not None:
            await self._http.close()
        if self._marks is not None:
            self._marks.close()

    # -- request handling -------------------------------------------------------------------

    def _may_publish(self, request: web.Request, room: str) -> bool | None:
        """Whether the request's publisher token may publish to ``room`` (the relay's token:
        every room; a device's room token: its own rooms); None when it carries no valid token."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credentials:
            return None
        given = credentials.strip().encode()
        if self._token is not None and hmac.compare_digest(given, self._token):
            return True
        for token, rooms in self._room_tokens:
            if hmac.compare_digest(given, token):
                return room in rooms
        return None

    def _ticket(self, request: web.Request, room: str) -> Ticket:
        """The caller's ticket for ``room``, checked: signed by an installed device key, for this
        relay, for this room, unexpired, not revoked. Raises :class:`HttpError` (401, 403)."""
        if not self._ticket_keys:
            raise HttpError(404, "this relay has no viewer endpoint")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HttpError(401, "a ticket is required (Authorization: Bearer <ticket>)")
        claims, kid = self._verify(token, "ticket", TICKET_CLAIMS)
        for name in ("cam", "sub", "jti", "iss"):
            if not isinstance(claims.get(name), str):
                raise HttpError(401, f"the ticket's {name} is not a string")
        mark = claims.get("mark")
        ticket = Ticket(
            jti=claims["jti"],
            sub=claims["sub"],
            cam=claims["cam"],
            exp=float(claims["exp"]),
            iat=float(claims["iat"]),
            kid=kid,
            iss=claims["iss"],
            mark=mark if isinstance(mark, str) else None,
        )
        if ticket.cam != room:
            raise HttpError(403, "the ticket is for another camera")
        if room not in self._key_rooms.get(kid, frozenset({room})):
            raise HttpError(403, "the ticket's device key is not trusted for this room")
        refusal = self.revocations.get(kid, DeviceRevocations()).refusal(ticket)
        if refusal is not None:
            raise HttpError(403, refusal)
        return ticket

    def _verify(self, token: str, use: str, required: list[str]) -> tuple[dict[str, Any], str]:
        """Check a JWT of the devices (a ticket or a revocation list): signature by an installed
        key (the ``kid`` header picks it), ``aud`` this relay, unexpired, meant for ``use``."""
        if len(token) > MAX_TICKET_CHARS:
            raise HttpError(401, "the ticket is too long")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError:
            raise HttpError(401, "the ticket is not a JWT") from None
        key = self._ticket_keys.get(kid) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise HttpError(401, "the ticket is signed by a key this relay does not know")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self._audience,
                # iat is not compared with this host's clock: exp is what ends a ticket
                options={"require": required, "verify_iat": False},
            )
        except jwt.ExpiredSignatureError:
            raise HttpError(401, "the ticket has expired") from None
        except jwt.InvalidAudienceError:
            raise HttpError(401, "the ticket is for another relay") from None
        except jwt.InvalidSignatureError:
            raise HttpError(401, "the ticket's signature is not valid") from None
        except jwt.InvalidTokenError as err:
            raise HttpError(401, f"the ticket is not valid: {err}") from None
        if claims.get("use") != use:
            raise HttpError(401, f"the token is not a {use}")
        return claims, kid

    @staticmethod
    def _refuse(status: int, reason: str) -> web.Response:
        headers = {"WWW-Authenticate": 'Bearer realm="whip"'} if status == 401 else None
        return web.Response(status=status, text=reason + "\n", headers=headers)

    async def _publish(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        may = self._may_publish(request, room)
        if may is None:
            log.warning("refused a publish to %r from %s: bad token", room, request.remote)
            return self._refuse(401, "a valid bearer token is required")
        if not may:
            log.warning(
                "refused a publish to %r from %s: another room's token", room, request.remote
            )
            return self._refuse(403, "this token may not publish to this room")
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
                "display": CAMERA_DISPLAY,
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
        publication_id = request.match_info["id"]
        publication = self.publications.get(publication_id)
        may = self._may_publish(request, publication.room if publication else "")
        if may is None:
            return self._refuse(401, "a valid bearer token is required")
        if publication is None:
            return self._refuse(404, "no such resource")
        if not may:
            return self._refuse(403, "this token may not end another room's publication")
        await self._end(publication_id, "deleted by the publisher")
        return web.Response(status=200)

    async def _patch(self, request: web.Request) -> web.Response:
        if self._may_publish(request, "") is None:
            return self._refuse(401, "a valid bearer token is required")
        return web.Response(
            status=405,
            text="trickle ICE and ICE restarts are not supported\n",
            headers={"Allow": "DELETE"},
        )

    # -- viewers ----------------------------------------------------------------------------

    async def _subscribe(self, request: web.Request) -> web.Response:
        room = request.match_info["room"]
        try:
            ticket = self._ticket(request, room)
        except HttpError as err:
            log.info("refused a viewer of %r: %d %s", room, err.status, err.reason)
            return self._refuse(err.status, err.reason)
        if await request.read():
            return self._refuse(
                400,
                "send an empty body: the relay makes the offer, PATCH the resource with the answer",
            )
        publication = self.publications.get(self._by_room.get(room, ""))
        if publication is None:
            return self._refuse(404, "the room has no stream now")
        watching = [s for s in self.subscriptions.values() if s.publication == publication.id]
        if len(watching) >= self._max_viewers:
            return self._refuse(503, "the room has its maximum of viewers")
        try:
            if ticket.mark is not None and self._marks is not None:
                subscription, offer = await self._join_marked(publication, ticket, watching)
            else:
                subscription, offer = await self._join_viewer(publication, ticket)
        except HttpError as err:
            if ticket.mark is not None:
                log.warning("refused a marked viewer of %r: %s", room, err.reason)
            return self._refuse(err.status, err.reason)
        return web.Response(
            status=201,
            text=offer,
            content_type="application/sdp",
            headers={"Location": f"/whep/resource/{subscription.id}"},
        )

    def _own_subscription(self, request: web.Request) -> Subscription:
        """The subscription a viewer's request names, if their ticket is its viewer's (the same
        ``sub``, for the same room). Raises :class:`HttpError`."""
        subscription = self.subscriptions.get(request.match_info["id"])
        if subscription is None:
            raise HttpError(404, "no such resource")
        ticket = self._ticket(request, subscription.ticket.cam)
        if ticket.sub != subscription.ticket.sub or ticket.kid != subscription.ticket.kid:
            raise HttpError(404, "no such resource")  # not telling whose it is
        return subscription

    async def _join_marked(
        self, publication: Publication, ticket: Ticket, watching: list[Subscription]
    ) -> tuple[Subscription, str]:
        """A viewer to be marked joins their group's copy from the marker, never the camera's
        own feed: without the copy (the marker is down or not marking the room yet) they are
        refused, 503."""
        assert self._marks is not None
        place = self._marks.place({s.place for s in watching if s.place is not None})
        if place is None:
            raise HttpError(503, f"all {self._marks.groups**2} marked places of the room are taken")
        period = self._marks.period(time.time())
        group = mark_group(place, period, self._marks.groups)
        # no answer from Janus about the copies ({}) is no copy: refused, never a 500
        copies = await self._copies({publication.room: publication.feed})
        feed = copies.get(publication.room, {}).get(group)
        if feed is None:
            mismatch = publication.room in self._mismatched
            raise HttpError(503, MARKER_MISMATCH if mismatch else MARKER_DOWN)
        subscription, offer = await self._join_viewer(publication, ticket, feed=feed, marked=True)
        subscription.place, subscription.feed = place, feed
        subscription.group = self._marks.record("join", publication.room, period, place, ticket)
        return subscription, offer

    async def _join_viewer(
        self, publication: Publication, ticket: Ticket, *, feed: str = "", marked: bool = False
    ) -> tuple[Subscription, str]:
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
            "streams": [{"feed": feed or publication.feed}],
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
            if isinstance(err, JanusError) and err.code == _VIDEOROOM_NO_SUCH_FEED and marked:
                raise HttpError(503, MARKER_DOWN) from None
            if isinstance(err, JanusError) and err.code == _VIDEOROOM_NO_SUCH_FEED:
                # the camera's publication is there but its media is not up yet (or just went)
                raise HttpError(404, "the room has no stream now") from None
            if isinstance(err, JanusError):
                log.error("Janus refused a subscription: %s", err)
                raise HttpError(502, "the relay failed to set up the subscription") from None
            if isinstance(err, aiohttp.ClientError | OSError | TimeoutError):
                raise HttpError(503, "the relay is not available") from None
            raise
        if publication.id not in self.publications:  # it ended while Janus was answering
            await janus.destroy()
            raise HttpError(404, "the room has no stream now")
        subscription = Subscription(subscription_id, publication.id, janus, ticket)
        self.subscriptions[subscription_id] = subscription
        asyncio.get_running_loop().call_later(ANSWER_TIMEOUT_S, self._unanswered, subscription_id)
        log.info(
            "room %r: viewer %s joined (ticket %s of %s, login %s)",
            publication.room,
            subscription_id[:8],
            ticket.jti[:8],
            ticket.iss,
            ticket.sub[:8],
        )
        return subscription, str(jsep["sdp"])

    def _unanswered(self, subscription_id: str) -> None:
        subscription = self.subscriptions.get(subscription_id)
        if subscription is not None and not subscription.started:
            self._end_viewer_later(subscription_id, "no answer in time")

    async def _answer(self, request: web.Request) -> web.Response:
        try:
            subscription = self._own_subscription(request)
        except HttpError as err:
            return self._refuse(err.status, err.reason)
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

    async def _renew(self, request: web.Request) -> web.Response:
        """A fresh ticket of the same viewer and room replaces the session's ticket, so a session
        outlives one ticket while the device keeps renewing it."""
        try:
            subscription = self._own_subscription(request)
            ticket = self._ticket(request, subscription.ticket.cam)
        except HttpError as err:
            return self._refuse(err.status, err.reason)
        if ticket.mark is not None and self._marks is not None and subscription.place is None:
            # the device now wants this viewer marked: not on the camera's own feed any more
            await self._end_viewer(subscription.id, "it must now be marked")
            return self._refuse(409, "this viewer must now watch a marked stream: subscribe again")
        subscription.ticket = ticket
        return web.Response(status=204)

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        try:
            subscription = self._own_subscription(request)
        except HttpError as err:
            return self._refuse(err.status, err.reason)
        await self._end_viewer(subscription.id, "deleted by the viewer")
        return web.Response(status=200)

    async def _revocations(self, request: web.Request) -> web.Response:
        """A device's signed revocation list: its tickets to refuse from now on (until they
        expire) and when its current run started; the sessions they opened end at once."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or not self._ticket_keys:
            return self._refuse(401, "a revocation list signed by a device is required")
        try:
            claims, kid = self._verify(
                token.strip(), "revocations", ["iss", "aud", "exp", "revoked", "not_before"]
            )
            entries = claims["revoked"]
            if not isinstance(entries, list) or not all(
                isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) for e in entries
            ):
                raise HttpError(400, "revoked must be a list of [jti, exp]")
            revoked = {jti: float(exp) for jti, exp in entries}
            not_before = float(claims["not_before"])
        except (HttpError, TypeError, ValueError) as err:
            status, reason = (err.status, err.reason) if isinstance(err, HttpError) else (400, "")
            return self._refuse(status, reason or "malformed revocation list")
        state = self.revocations.setdefault(kid, DeviceRevocations())
        now = time.time()
        state.revoked = {j: e for j, e in state.revoked.items() if e > now}
        state.revoked.update((jti, exp) for jti, exp in revoked.items() if exp > now)
        state.not_before = max(state.not_before, not_before)
        ended = await self._end_tickets(
            lambda t: t.kid == kid and state.refusal(t) is not None, "its ticket was revoked"
        )
        return web.json_response({"ended": ended})

    async def _end_tickets(self, match: Callable[[Ticket], bool], reason: str) -> int:
        doomed = [s.id for s in self.subscriptions.values() if match(s.ticket)]
        await asyncio.gather(*(self._end_viewer(s, reason) for s in doomed))
        return len(doomed)

    async def _check_tickets(self) -> None:
        """Re-check every live viewer's ticket: end those expired (the viewer's window is over)
        or revoked, so a cut-off takes at most CHECK_INTERVAL_S plus the hang-up."""
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                await self._end_tickets(self._expired, "its ticket expired")
                await self._end_tickets(self._revoked, "its ticket was revoked")
                if self._marks is not None:
                    await self._rotate_marks(self._marks)
                    await self._check_marker()
            except Exception:  # keep checking: a failed hang-up must not stop the cut-offs
                log.exception("re-checking the viewers' tickets failed")

    async def _rotate_marks(self, marks: MarkSchedule) -> None:
        """At a period's start, move every marked viewer to their group of the new period
        (Janus's ``switch``: no renegotiation) and log it; a viewer who cannot be moved is
        ended, never left on a copy the log does not name."""
        period = marks.period(time.time())
        if period == self._period:
            return
        self._period = period
        marked = self._marked()
        copies = await self._copies({p.room: p.feed for p, _ in marked})

        async def move(publication: Publication, subscription: Subscription) -> None:
            assert subscription.place is not None
            group = mark_group(subscription.place, period, marks.groups)
            feed = copies.get(publication.room, {}).get(group)
            try:
                if feed is None:
                    raise HttpError(503, "no copy of the group")
                if feed != subscription.feed:
                    stream = {"feed": feed, "mid": "0", "sub_mid": "0"}
                    await subscription.janus.message({"request": "switch", "streams": [stream]})
            except (HttpError, JanusError, aiohttp.ClientError, TimeoutError) as err:
                await self._end_viewer(subscription.id, f"could not move it to its group: {err}")
                return
            subscription.group, subscription.feed = group, feed
            place, ticket = subscription.place, subscription.ticket
            marks.record("rotate", publication.room, period, place, ticket)

        await asyncio.gather(*(move(p, s) for p, s in marked))

    def _marked(self) -> list[tuple[Publication, Subscription]]:
        return [
            (self.publications[s.publication], s)
            for s in self.subscriptions.values()
            if s.place is not None and s.publication in self.publications
        ]

    async def _copies(self, sources: dict[str, str]) -> dict[str, dict[int, str]]:
        """Per room, the marker's copies of the camera's feed ``sources[room]``: their publisher
        ids by group. Empty when Janus cannot say, and none for a room whose copies the marker
        makes in another number of groups than ``--mark-groups`` (the caller then fails
        closed)."""
        assert self._http is not None and self._marks is not None
        found: dict[str, dict[int, str]] = {}
        control = None
        try:
            control = await self._control_session()
            for room, source in sources.items():
                data, _ = await control.message({"request": "listparticipants", "room": room})
                copies = [
                    (copy, str(p["id"]))
                    for p in data.get("participants", [])
                    if p.get("publisher")
                    and (copy := read_mark_display(str(p.get("display", "")))) is not None
                    and copy.source == source
                ]
                agree = self._marker_groups_agree(room, {c.groups for c, _ in copies})
                found[room] = {c.group: feed for c, feed in copies} if agree else {}
        except (JanusError, aiohttp.ClientError, TimeoutError, OSError) as err:
            log.warning("could not look up the marker's copies: %s", err)
            if control is not None and control is self._control:  # not one opened since
                self._control = None
                await control.destroy()
            return {}
        return found

    async def _control_session(self) -> JanusSession:
        """The Janus session that looks up the marker's copies, opened once for every caller
        (subscriptions and the checks run concurrently; one that fails lets it go)."""
        assert self._http is not None
        async with self._control_opening:
            if self._control is None:
                session = JanusSession(self._http, self._janus_url, self._janus_secret)
                try:
                    await session.open("janus.plugin.videoroom")
                except BaseException:
                    await session.destroy()
                    raise
                self._control = session
            return self._control

    def _marker_groups_agree(self, room: str, marker_groups: set[int]) -> bool:
        """Whether the marker's copies in ``room`` (made in ``marker_groups`` groups) are of
        this front-end's ``--mark-groups``. When they are not, the schedule's groups would not
        be the copies' (viewers sharing a copy, groups without one): the room's marked viewers
        are refused, and the mismatch logged once, until the marker's ``--groups`` is fixed."""
        assert self._marks is not None
        other = marker_groups - {self._marks.groups}
        if not other:
            if room in self._mismatched:
                log.info("room %r: the marker's groups match --mark-groups again", room)
                self._mismatched.discard(room)
            return True
        if room not in self._mismatched:
            log.error(
                "room %r: the marker makes its copies in %s groups but --mark-groups is %d: "
                "marked viewers are refused until marker.py --groups is %d",
                room,
                "/".join(map(str, sorted(other))),
                self._marks.groups,
                self._marks.groups,
            )
            self._mismatched.add(room)
        return False

    async def _check_marker(self) -> None:
        """End the marked viewers whose copy is gone (the marker stopped, failed or started
        again): they are not moved to the camera's own feed."""
        now = time.monotonic()
        marked = self._marked()
        if not marked or now - self._marker_checked < MARKER_CHECK_S:
            return
        self._marker_checked = now
        copies = await self._copies({p.room: p.feed for p, _ in marked})
        gone = [s.id for p, s in marked if s.feed not in copies.get(p.room, {}).values()]
        reason = "its marked copy is gone (the relay's marker stopped)"
        await asyncio.gather(*(self._end_viewer(s, reason) for s in gone))

    @staticmethod
    def _expired(ticket: Ticket) -> bool:
        return ticket.exp <= time.time()

    def _revoked(self, ticket: Ticket) -> bool:
        return self.revocations.get(ticket.kid, DeviceRevocations()).refusal(ticket) is not None

    @staticmethod
    async def _preflight(_request: web.Request) -> web.Response:
        return web.Response(status=204)

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


@web.middleware
async def _cors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Viewers' browsers load the owner app from the camera and call the relay's /whep/ from
    there: let any origin do so. Safe because a viewer authenticates with the ticket in the
    Authorization header, which a page only has if the device gave it one, never a cookie."""
    response = await handler(request)
    if request.path.startswith("/whep/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "POST, PATCH, DELETE"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Expose-Headers"] = "Location"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


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
        "--token-file",
        type=Path,
        help="the publishers' bearer token, for every room (or give each device its own with "
        "--room-token-file)",
    )
    parser.add_argument(
        "--room-token-file",
        metavar="ROOM,ROOM=PATH",
        action="append",
        default=[],
        help="a device's own publisher token, for its rooms only (its cameras): it cannot "
        "publish into, or end, another room's stream; repeat for several devices",
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
        "--ticket-key-file",
        metavar="[ROOM,ROOM=]PATH",
        action="append",
        default=[],
        help="a device's public ticket key (PEM, from `camera-app relay-key`), trusted for the "
        "rooms named before '=' (the device's cameras; without them, for every room); repeat "
        "for several devices. Without one, the relay has no viewers",
    )
    parser.add_argument(
        "--audience",
        help="this relay's origin as the devices name it in tickets, e.g. "
        "https://relay.example.org (the origin of their WHIP URL)",
    )
    parser.add_argument("--max-viewers", type=int, default=MAX_VIEWERS, help="per room")
    parser.add_argument(
        "--mark-groups",
        type=int,
        help="per-viewer marks: viewers whose ticket carries a mark watch the marker's G "
        "rotating group copies (marker.py --groups G), never the camera's own feed",
    )
    parser.add_argument(
        "--mark-period",
        type=float,
        default=MARK_PERIOD_S,
        help="seconds between a marked viewer's moves to another group",
    )
    parser.add_argument(
        "--mark-log",
        type=Path,
        default=Path("/var/lib/camera-relay/marks.jsonl"),
        help="the append-only record of which viewer watched which group when (for trace.py)",
    )
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
    token = read_secret(args.token_file, "token") if args.token_file else None
    try:
        ticket_keys, key_rooms = load_ticket_keys(args.ticket_key_file)
        room_tokens = load_room_tokens(args.room_token_file)
        frontend = WhipFrontend(
            args.janus,
            token,
            room_tokens=room_tokens,
            janus_secret=read_secret(args.janus_secret_file, "Janus secret")
            if args.janus_secret_file
            else None,
            room_pin=read_secret(args.room_pin_file, "room pin") if args.room_pin_file else None,
            idle_timeout=args.idle_timeout,
            ticket_keys=ticket_keys,
            key_rooms=key_rooms,
            audience=args.audience,
            max_viewers=args.max_viewers,
            marks=MarkSchedule(args.mark_groups, args.mark_period, args.mark_log)
            if args.mark_groups
            else None,
        )
    except (ValueError, OSError) as err:
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
