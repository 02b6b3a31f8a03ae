"""What every request must pass before a handler sees it: the name it is for (Host), where a
change comes from (cross-site), what its body is (no forms), and how long the body may take.

- **Host allow-list** (against DNS rebinding): a page on ``evil.example`` whose name the attacker
  points at the device's address is same-origin with the device as far as the browser knows; only
  the Host header still says ``evil.example``. IP addresses are always answered (an address
  cannot be rebound: a page that uses one has that address as its own origin), names only when
  they are the device's.
- **Cross-site changes** (CSRF): a state-changing request (POST, PUT, PATCH, DELETE) is refused
  when the browser says it comes from another site: ``Sec-Fetch-Site`` other than
  ``same-origin``/``none``, or an ``Origin`` other than the device's own. A request that says
  neither is a non-browser client (every current browser sends ``Origin`` on such a request); it is
  allowed unless it carries the session cookie, which only a browser sends on its own. A reverse
  proxy in front must pass the Host on and speak the device's scheme to it (the shipped Caddy
  configuration does both).
- **No forms**: the three content types a page on another site may send without asking
  (``application/x-www-form-urlencoded``, ``multipart/form-data``, ``text/plain``) never reach a
  handler of a change; the API takes JSON, and SDP for WHEP.
- **Body deadline**: the body must arrive in full within ``api.request_body_timeout_s`` of the
  head, else 408 and the connection is closed. (A chunked body larger than aiohttp's buffer
  cannot arrive in full before a handler reads it, so it gets the 408 too.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from camera_app.api.context import CTX, SESSION_COOKIE, ApiContext
from camera_app.api.errors import ApiError, Handler, error_response
from camera_app.config.app import AppConfig

log = logging.getLogger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Sec-Fetch-Site values of a request the device's own page made (``none``: the user did)
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})
#: What a page on another site may POST without a CORS preflight; no route of the API takes them
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


# --- Host ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostHeader:
    """A Host header split into its name (lower case, IPv6 without brackets) and port."""

    name: str
    port: str | None

    @classmethod
    def parse(cls, value: str) -> HostHeader | None:
        """None when ``value`` is not a host[:port] (garbage is refused, not guessed at)."""
        value = value.strip().lower()
        if not value or not value.isascii() or any(c in value for c in " /\\@?#"):
            return None
        if value.startswith("["):
            name, sep, rest = value[1:].partition("]")
            if not sep or (rest and not rest.startswith(":")):
                return None
            port = rest[1:] if rest else None
            if not _is_ip(name):
                return None
        else:
            name, sep, port_text = value.partition(":")
            port = port_text if sep else None
            if ":" in port_text:
                return None
        if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
            return None
        name = name.rstrip(".")
        return cls(name, port) if name else None

    @property
    def is_ip(self) -> bool:
        return _is_ip(self.name)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _url_host(url: str | None) -> str | None:
    try:
        host = urlsplit(url).hostname if url else None
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


class HostAllowList:
    """The names the device answers to; see the module's docstring and ``api.allowed_hosts``."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = frozenset(n.rstrip(".").lower() for n in names if n)

    @classmethod
    def for_device(cls, config: AppConfig, hostname: str | None = None) -> HostAllowList:
        """``localhost``, the device's host name (and its mDNS ``.local``), ``api.host`` when it
        is a name, the host of ``streaming.public_url`` and ``api.allowed_hosts``. The device
        certificate names the host name and ``localhost`` (``firmware.identity``)."""
        system = (hostname if hostname is not None else socket.gethostname()).lower()
        names = ["localhost", system, f"{system}.local", config.api.host]
        names.append(_url_host(config.streaming.public_url) or "")
        return cls([*names, *config.api.allowed_hosts])

    def allows(self, host: HostHeader, ctx: ApiContext | None = None) -> bool:
        if host.is_ip or host.name in self._names:
            return True
        # a notice's own public address (the owner chose it when making the sign); looked up
        # only for a name not in the list, so a normal request costs no query
        return ctx is not None and host.name in notice_hosts(ctx)


def notice_hosts(ctx: ApiContext) -> set[str]:
    """The hosts of the notices in force, whose QR codes send customers to them."""
    hosts = set()
    for camera_id in ctx.controller.cameras:
        notice = ctx.controller.gates.current_notice(camera_id)
        host = _url_host(notice.url) if notice is not None else None
        if host:
            hosts.add(host)
    return hosts


HOSTS = web.AppKey("hosts", HostAllowList)


@web.middleware
async def known_host(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a name the device does not answer to; 400 for a missing or malformed Host."""
    raw = request.headers.get("Host")
    if raw is None:
        raise ApiError(400, "missing_host", "the request has no Host header")
    host = HostHeader.parse(raw)
    if host is None:
        raise ApiError(400, "bad_host", "the Host header is not a host name or address")
    if not request.app[HOSTS].allows(host, request.app[CTX]):
        log.info("refused a request for unknown host %r from %s", host.name[:80], request.remote)
        raise ApiError(
            421,
            "unknown_host",
            f"this device does not answer to the name {host.name[:80]!r}; if it is one of its "
            "names (e.g. the public name of remote access), add it to api.allowed_hosts",
        )
    return await handler(request)


# --- Origin / Sec-Fetch-Site ------------------------------------------------------------------


def cross_site_refusal(
    method: str, headers: dict[str, str], *, secure: bool, has_cookie: bool
) -> ApiError | None:
    """Why a request must be refused as cross-site, or None. ``headers``: lower-case names."""
    if method not in MUTATING:
        return None
    fetch_site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if fetch_site is not None and fetch_site.strip().lower() not in _OWN_FETCH_SITES:
        return ApiError(
            403,
            "cross_site_request",
            f"refused: the browser says this change comes from another site (Sec-Fetch-Site: "
            f"{fetch_site[:20]}); only the device's own page may make it (Origin)",
        )
    if origin is not None and not _own_origin(origin, headers.get("host", ""), secure=secure):
        return ApiError(
            403,
            "cross_site_request",
            "refused: this change comes from another site (its Origin is not this device's)",
        )
    if fetch_site is None and origin is None and has_cookie:
        return ApiError(
            403,
            "origin_required",
            "refused: a change made with the login cookie must say where it comes from (Origin); "
            "scripts log in and send the token as 'Authorization: Bearer' instead",
        )
    return None


def _own_origin(origin: str, host_header: str, *, secure: bool) -> bool:
    """``origin`` is the origin of the URL the request was sent to: its scheme (https over TLS,
    else http: an http page of the same name is another origin, and a spoofable one) and its
    Host."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query:
        return False
    if parts.scheme != ("https" if secure else "http"):
        return False
    host = HostHeader.parse(host_header)
    if host is None:
        return False
    default = _DEFAULT_PORTS[parts.scheme]
    return (parts.hostname.rstrip("."), str(port) if port else default) == (
        host.name,
        host.port or default,
    )


@web.middleware
async def same_site_changes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a cross-site change; 415 for a change sent as a form."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    refusal = cross_site_refusal(
        request.method,
        headers,
        secure=request.secure,
        has_cookie=SESSION_COOKIE in request.cookies,
    )
    if refusal is not None:
        log.info("refused a cross-site %s %s from %s", request.method, request.path, request.remote)
        raise refusal
    kind = headers.get("content-type", "").partition(";")[0].strip().lower()
    if request.method in MUTATING and kind in _FORM_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"this API takes JSON (application/json), not {kind}",
        )
    return await handler(request)


# --- body deadline ------------------------------------------------------------------------------


@web.middleware
async def body_in_time(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Wait for the whole body within the deadline before the handler runs (which then reads it
    from memory). Too slow: 408, and the connection closes after the answer.

    The body stays in aiohttp's buffer, unread, for the handler to read as it likes; a body
    larger than the app's client_max_size is refused first, so it never has to fit there.
    """
    if request.body_exists:
        length = request.content_length
        if length is not None and length > request.client_max_size:
            raise ApiError(413, "too_large", "request body is too large")
        limit = request.app[CTX].config.api.request_body_timeout_s
        try:
            async with asyncio.timeout(limit):
                await request.content.wait_eof()
        except TimeoutError:
            log.info("request body from %s did not arrive within %g s", request.remote, limit)
            response = error_response(
                408, "request_timeout", f"the request body did not arrive within {limit:g} s"
            )
            response.force_close()
            return response
    return await handler(request)
