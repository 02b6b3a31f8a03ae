"""The owner API's listener on the event loop it is started on.

HTTPS uses the device certificate made on first run (``firmware.identity``); plain HTTP is allowed
only on a loopback address (the config refuses anything else). The composition root
(``camera_app.app``) builds the :class:`ApiContext` and runs this server on the live subsystem's
event loop.
"""

from __future__ import annotations

import ipaddress
import logging

from aiohttp import web

from camera_app.api.app import build_app
from camera_app.api.context import ApiContext
from firmware.identity import ensure_device_identity, ssl_server_context

log = logging.getLogger(__name__)


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
        runner = web.AppRunner(build_app(self.context), access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, api.host, api.port, ssl_context=ssl_context)
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


def _listen_ips(host: str) -> list[str]:
    """The listen address for the certificate's names, unless it is a wildcard or a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    return [] if address.is_unspecified else [host]
