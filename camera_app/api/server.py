"""Runs the owner API on its own thread and event loop, beside the capture loop.

HTTPS uses the device certificate made on first run (``firmware.identity``); plain HTTP is allowed
only on a loopback address (the config refuses anything else). A ticker re-checks the streaming
gates once a second, so time-based gates (notice hours, re-confirmation, consent end dates,
viewer expiry) close a stream within a second even when nobody calls the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading

from aiohttp import web

from camera_app.api.app import build_app, build_context
from camera_app.api.context import ApiContext, enforce_sessions
from camera_app.config.app import AppConfig
from firmware.clock import Clock
from firmware.db import open_database
from firmware.identity import ensure_device_identity, ssl_server_context
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths

log = logging.getLogger(__name__)

TICK_S = 1.0
START_TIMEOUT_S = 30.0


class ApiServer:
    """The owner API server. ``start()`` returns once it listens; ``stop()`` ends live streams
    (nothing streams without the API that controls it) and shuts the server down."""

    def __init__(
        self,
        config: AppConfig,
        clock: Clock,
        indicator: StreamingIndicator,
        *,
        context_factory=build_context,
    ) -> None:
        self._config = config
        self._clock = clock
        self._indicator = indicator
        self._factory = context_factory
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.context: ApiContext | None = None
        self.url = ""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="owner-api", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("owner API did not start in time")
        if self._error is not None:
            raise RuntimeError(f"owner API could not start: {self._error}") from self._error

    def stop(self) -> None:
        """Idempotent: a second call (or one after the server failed) does nothing."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported to start(); the thread must not die silently
            self._error = err
            self._ready.set()
            log.exception("owner API failed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        api = self._config.api
        paths = StoragePaths(self._config.storage.data_dir)
        paths.create()
        conn = open_database(paths.database)
        ssl_context = None
        if api.tls:
            identity = ensure_device_identity(paths.secrets, ips=_listen_ips(api.host))
            ssl_context = ssl_server_context(identity)
        try:
            self.context = self._factory(self._config, conn, self._clock, self._indicator)
            runner = web.AppRunner(build_app(self.context), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, api.host, api.port, ssl_context=ssl_context)
            await site.start()
            host, port = runner.addresses[0][:2]
            scheme = "https" if ssl_context else "http"
            shown = f"[{host}]" if ":" in host else host
            self.url = f"{scheme}://{shown}:{port}"
            log.info("owner API listening on %s", self.url)
            self._ready.set()
            ticker = asyncio.create_task(self._tick())
            await self._stopping.wait()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.context.controller.stop_all("service", "service stopping")
            await self.context.relay.close_all("service stopping")
            await self.context.viewer_sessions.close_all("service stopping")
            await runner.cleanup()
        finally:
            conn.close()

    async def _tick(self) -> None:
        assert self.context is not None
        # Publishing to the relay talks to another host (up to its timeout): it runs beside the
        # ticker, never inside it, so a slow relay cannot delay a gate or a parent's cut-off.
        relay: asyncio.Task[None] | None = None
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.context.controller.reevaluate()
                await enforce_sessions(self.context)
                if relay is None or relay.done():
                    cameras = list(self.context.controller.cameras)
                    relay = asyncio.create_task(self.context.relay.reconcile(cameras))
                    relay.add_done_callback(_report_relay_failure)
            except Exception:  # keep ticking: a failing check must not freeze the gates open
                log.exception("re-checking the streaming gates failed; stopping every stream")
                self.context.controller.stop_all("gates", "gate check failed")


def _report_relay_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing to the relay failed", exc_info=task.exception())


def _listen_ips(host: str) -> list[str]:
    """The listen address for the certificate's names, unless it is a wildcard or a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    return [] if address.is_unspecified else [host]
