"""The owner API's listener on the event loop it is started on.

HTTPS uses the device certificate made on first run (``firmware.identity``); plain HTTP is allowed
only on a loopback address (the config refuses anything else). The composition root
(``camera_app.app``) builds the :class:`ApiContext` and runs this server on the live subsystem's
event loop.
"""

from __future__ import annotations

import ipaddress
import logging
import resource

from aiohttp import web

from camera_app.api.app import build_app
from camera_app.api.context import ApiContext
from camera_app.api.listener import ConnectionLimits, LimitedSite
from firmware.identity import ensure_device_identity, ssl_server_context

log = logging.getLogger(__name__)

#: After an answer, aiohttp reads and drops the rest of a body the handler did not read, for at
#: most this long, so that the client sees the answer instead of a reset; then it closes.
LINGER_S = 2.0
#: Descriptors the rest of the service needs beside the API's connections (WebRTC sockets,
#: recordings, the database, MQTT, libraries).
_OTHER_DESCRIPTORS = 512


class ApiServer:
    """``start()`` listens and sets :attr:`url`; ``stop()`` closes the listener."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        api = self.context.config.api
        ssl_context = None
        if api.tls:
            identity = ensure_device_identity(self.context.paths.secrets, ips=_listen_ips(api.host))
            ssl_context = ssl_server_context(identity)
        # keepalive_timeout: aiohttp's timer for a request head (see camera_app.api.listener)
        runner = web.AppRunner(
            build_app(self.context),
            access_log=None,
            keepalive_timeout=api.request_head_timeout_s,
            lingering_time=LINGER_S,
        )
        await runner.setup()
        self._runner = runner
        limits = ConnectionLimits(
            per_address=api.max_connections_per_address,
            total=api.max_connections,
            handshake_timeout_s=api.request_head_timeout_s,
        )
        _check_descriptor_limit(limits.total)
        site = LimitedSite(runner, api.host, api.port, limits=limits, ssl_context=ssl_context)
        await site.start()
        host, port = runner.addresses[0][:2]
        scheme = "https" if ssl_context else "http"
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{scheme}://{shown}:{port}"
        log.info("owner API listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _check_descriptor_limit(connections: int) -> None:
    """Warn when the process may open fewer files than the API may hold connections (the unit
    sets LimitNOFILE; a shell's default is often 1024)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < connections + _OTHER_DESCRIPTORS:
        log.warning(
            "this process may open %d files, but api.max_connections is %d: clients could use "
            "up the descriptors the rest of the service needs; raise the limit (ulimit -n, "
            "LimitNOFILE=) or lower api.max_connections",
            soft,
            connections,
        )


def _listen_ips(host: str) -> list[str]:
    """The listen address for the certificate's names, unless it is a wildcard or a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    return [] if address.is_unspecified else [host]
