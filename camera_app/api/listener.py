"""The owner API's listening socket: which connections it admits, and for how long.

aiohttp's ``TCPSite`` hands every accepted socket straight to a request handler, and asyncio runs
a TLS handshake before that handler even sees its connection. Neither leaves a place to refuse a
client that already holds too many connections, and a TLS handshake that never starts would hold
its descriptor for asyncio's default 60 s. So :class:`LimitedSite` puts :class:`_Admission` under
both: the client's address is known when the socket is accepted, the connection is counted from
then until it is gone, and a connection over the caps is closed at once. TLS then runs on top
(``loop.start_tls``) with the head timeout as its deadline.

The head timeout after that is aiohttp's keep-alive timer (``keepalive_timeout``), armed when the
handler gets the connection and again after each answer. Unlike a read timeout, data that
trickles in does not extend it: when it fires, a connection without a complete request head is
closed. The body has its own deadline (``camera_app.api.guards.body_in_time``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections import Counter
from dataclasses import dataclass
from typing import cast

from aiohttp import web

log = logging.getLogger(__name__)

#: A refused client is logged at most this often (a flood must not flood the log too).
_REFUSAL_LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Caps on open connections, and the time a TLS handshake may take."""

    per_address: int
    total: int
    handshake_timeout_s: float


def client_key(peer: object) -> str:
    """What a connection counts against: the IPv4 address, or an IPv6 client's /64 (one LAN
    host may pick any address of its /64), an IPv4-mapped IPv6 address as the IPv4 one."""
    host = peer[0] if isinstance(peer, tuple) and peer else None
    if not isinstance(host, str):
        return "unknown"
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ConnectionSlots:
    """Open connections per client key and in total. Used on the event loop's thread only."""

    def __init__(self, per_address: int, total: int) -> None:
        self._per_address = per_address
        self._total = total
        self._open: Counter[str] = Counter()

    def try_acquire(self, key: str) -> bool:
        """Count one more connection of ``key``; False (and nothing counted) if over a cap."""
        if self.total >= self._total or self._open[key] >= self._per_address:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    @property
    def total(self) -> int:
        return sum(self._open.values())


class _Admission(asyncio.Protocol):
    """One accepted socket: counted until it is gone; carries TLS, then aiohttp's handler.

    Every event of the connection passes through here to the handler, so that ``connection_lost``
    releases the slot whatever ended the connection.
    """

    def __init__(self, site: LimitedSite) -> None:
        self._site = site
        self._key: str | None = None  # counted under this key until released
        self._raw: asyncio.Transport | None = None
        self._handler: asyncio.Protocol | None = None  # aiohttp's, once its stream is ready
        self._early: list[bytes] = []  # decrypted data that came before the handler was attached
        self._tls: asyncio.Task[None] | None = None

    # --- from the transport -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = cast(asyncio.Transport, transport)
        key = client_key(raw.get_extra_info("peername"))
        if not self._site.slots.try_acquire(key):
            self._site.refused(key)
            raw.abort()
            return
        self._key, self._raw = key, raw
        self._site.admitted.add(self)
        if self._site.ssl_context is None:
            self._attach(raw)
        else:
            # no read before start_tls takes the socket over (it resumes reading itself)
            raw.pause_reading()
            self._tls = asyncio.ensure_future(self._start_tls(raw, self._site.ssl_context))

    def data_received(self, data: bytes) -> None:
        if self._handler is None:
            self._early.append(data)  # TLS: the handshake ended, start_tls has not returned yet
        else:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self._handler is not None:
            self._handler.connection_lost(exc)

    # --- ours ---------------------------------------------------------------------------------

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        timeout = self._site.limits.handshake_timeout_s
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=timeout,
                ssl_shutdown_timeout=timeout,
            )
        except BaseException as err:  # start_tls has closed the socket; give the slot back
            self._release()
            if isinstance(err, asyncio.CancelledError):
                raise
            log.debug("TLS handshake with %s ended: %r", self._key, err)
            return
        if transport is None or self._key is None:  # lost between the handshake and here
            self._release()
            if transport is not None:
                transport.abort()
            return
        self._attach(transport)

    def _attach(self, transport: asyncio.Transport) -> None:
        handler = self._site.new_handler()
        self._handler = handler
        handler.connection_made(transport)
        early, self._early = self._early, []
        for data in early:
            handler.data_received(data)

    def _release(self) -> None:
        if self._key is not None:
            self._site.slots.release(self._key)
            self._key = None
        self._site.admitted.discard(self)

    def abort(self) -> None:
        """Stop a connection that has no handler yet (aiohttp closes those that have)."""
        if self._handler is None:
            if self._tls is not None:
                self._tls.cancel()
            if self._raw is not None:
                self._raw.abort()


class LimitedSite(web.BaseSite):
    """A TCP site (like ``web.TCPSite``) whose connections pass :class:`_Admission`."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limits: ConnectionLimits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._web_server = runner.server
        self.limits = limits
        self.slots = ConnectionSlots(limits.per_address, limits.total)
        self.admitted: set[_Admission] = set()
        self._refused: Counter[str] = Counter()
        self._refusals_logged_at: float | None = None

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self._ssl_context

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Admission(self), self._host, self._port, backlog=self._backlog
        )

    async def stop(self) -> None:
        await super().stop()
        for connection in list(self.admitted):
            connection.abort()

    def new_handler(self) -> asyncio.Protocol:
        """aiohttp's request handler for one admitted connection."""
        assert self._web_server is not None  # a site is made after runner.setup()
        return self._web_server()

    def refused(self, key: str) -> None:
        """Note a connection closed for being over a cap; logged at most once a minute."""
        self._refused[key] += 1
        now = asyncio.get_running_loop().time()
        if (
            self._refusals_logged_at is None
            or now - self._refusals_logged_at >= _REFUSAL_LOG_EVERY_S
        ):
            top = ", ".join(f"{k} ({n})" for k, n in self._refused.most_common(3))
            log.warning(
                "closed %d connections over the caps (%d per address, %d in total): %s",
                sum(self._refused.values()),
                self.limits.per_address,
                self.limits.total,
                top,
            )
            self._refused.clear()
            self._refusals_logged_at = now
