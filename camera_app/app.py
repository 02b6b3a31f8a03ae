"""The composition root of the owner side: builds the live subsystem and the owner API on one
event-loop thread, and hands the live subsystem to whoever else needs it (the capture loop's
privacy feed and MQTT, wired by ``camera_app.service``).

Everything the API's handlers use is built here; the API package only speaks HTTP.
"""

from __future__ import annotations

import concurrent.futures
import errno
import logging
import sqlite3
from collections.abc import Mapping

from camera_app.api.context import ApiContext
from camera_app.api.server import ApiServer
from camera_app.config.api import ApiConfig
from camera_app.config.app import AppConfig
from camera_app.eventloop import LoopThread
from camera_app.health import DeviceHealth
from camera_app.live.subsystem import LiveSubsystem, build_live
from camera_app.logins import (
    FailedLoginAudit,
    LoginDevices,
    LoginLimiter,
    Logins,
    LoginSessions,
    LoginUnlocks,
)
from camera_app.masks import MaskSettings
from camera_app.monitor.control import MonitoringControl
from camera_app.monitor.grants import RecordingGrants
from camera_app.monitor.recordings import Recordings
from camera_app.monitor.store import EventStore
from camera_app.passwords import PasswordWorkers
from camera_app.preview import LatestPicture
from camera_app.sitelink.build import build_site_link
from camera_app.sitelink.link import SiteLink
from camera_app.tokens import ApiTokens
from firmware.clock import Clock
from firmware.db import open_database
from firmware.errors import AppError, ExitCode
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.audit import AuditLog
from privacy.gates.viewers import CameraInfo
from privacy.registration import RegistrationStore
from privacy.secrets import DeviceSecretStore, FieldCipher

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ApiUnavailable(AppError, RuntimeError):
    """The owner API could not start; the message says why and what to do."""

    exit_code = ExitCode.RUNTIME


def _start_failure(api: ApiConfig, err: Exception) -> ApiUnavailable:
    where = f"{api.host}:{api.port}"
    if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
        return ApiUnavailable(
            f"the owner API cannot listen on {where}: the port is already in use (another "
            "camera-app, or another program, holds it). Stop that program, or choose another "
            "port with 'camera-app run --port N' or api.port in the config file"
        )
    if isinstance(err, OSError) and err.errno == errno.EACCES:
        return ApiUnavailable(
            f"the owner API may not listen on {where}: ports below 1024 need privileges this "
            "service does not have; choose a port from 1024 up (--port N or api.port)"
        )
    if isinstance(err, OSError) and err.errno == errno.EADDRNOTAVAIL:
        return ApiUnavailable(
            f"the owner API cannot listen on {where}: this device has no such address; "
            "use --host or api.host with one of its addresses, or 0.0.0.0"
        )
    return ApiUnavailable(f"the owner API could not start on {where}: {err}")


class OwnerServices:
    """The live subsystem and the owner API, running on their own event-loop thread.

    ``start()`` returns once the API listens (raises :class:`ApiUnavailable` if it cannot,
    saying why); ``stop()`` ends
    every live stream first (nothing streams without the API that controls it), then closes the
    listener and the loop. ``cameras`` overrides the cameras of the config (tests);
    ``monitoring``, ``health``, ``pictures`` and ``masks`` come from the capture side, the last
    two per camera id (None: the API answers that monitoring is not running here).
    """

    def __init__(
        self,
        config: AppConfig,
        clock: Clock,
        indicator: StreamingIndicator,
        *,
        cameras: Mapping[str, CameraInfo] | None = None,
        monitoring: MonitoringControl | None = None,
        health: DeviceHealth | None = None,
        pictures: Mapping[str, LatestPicture] | None = None,
        masks: Mapping[str, MaskSettings] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._indicator = indicator
        self._cameras = cameras
        self._monitoring = monitoring
        self._health = health
        self._pictures = dict(pictures) if pictures is not None else None
        self._masks = dict(masks) if masks is not None else None
        self._loop = LoopThread("owner-api")
        self._server: ApiServer | None = None
        self._conn: sqlite3.Connection | None = None
        self._passwords: PasswordWorkers | None = None
        self._supervision: concurrent.futures.Future[None] | None = None
        self.live: LiveSubsystem | None = None
        self.site: SiteLink | None = None  # with site.enabled: the link to the site
        self.context: ApiContext | None = None
        self.url = ""

    def start(self) -> None:
        self._loop.start()
        try:
            self.url = self._loop.run(self._start(), START_TIMEOUT_S)
        except Exception as err:
            self.stop()
            raise _start_failure(self._config.api, err) from err
        assert self.live is not None
        self._supervision = self._loop.spawn(self.live.supervise())

    async def _start(self) -> str:
        config, clock = self._config, self._clock
        paths = StoragePaths(config.storage.data_dir)
        paths.create()
        conn = self._conn = open_database(paths.database)
        audit = AuditLog(conn, clock)
        device_secret = DeviceSecretStore(paths.field_key)
        registrations = RegistrationStore(conn, FieldCipher.from_store(device_secret), clock, audit)
        self.live = build_live(
            config, conn, clock, self._indicator, registrations, audit, cameras=self._cameras
        )
        sessions = LoginSessions(conn, clock, config.api.session_hours * 3600)
        self.live.follow_logins(sessions)  # a stream ends with the login that opened it
        api = config.api
        self._passwords = PasswordWorkers(api.password_workers, api.password_queue)
        self.context = ApiContext(
            conn=conn,
            clock=clock,
            config=config,
            paths=paths,
            live=self.live,
            registrations=registrations,
            recordings=Recordings(
                EventStore(conn), paths, audit, clock, frozenset(self.live.controller.cameras)
            ),
            grants=RecordingGrants(conn, clock, audit),
            monitoring=self._monitoring,
            health=self._health,
            pictures=self._pictures,
            masks=self._masks,
            sessions=sessions,
            logins=Logins(
                conn,
                sessions,
                self.live.controller.viewers,
                audit,
                FailedLoginAudit(conn, audit, clock),
            ),
            tokens=ApiTokens(conn, clock, audit),
            limiter=LoginLimiter(
                api.login_max_failures,
                api.login_window_s,
                clock,
                per_address=api.login_max_failures_per_address,
                account_slowdown=api.login_account_slowdown,
                unlocks=LoginUnlocks(conn),
            ),
            passwords=self._passwords,
            devices=LoginDevices(device_secret.key()),
            audit=audit,
            tls=config.api.tls,
        )
        self._server = ApiServer(self.context)
        url = await self._server.start()
        self.site = build_site_link(config, conn, self.live, audit, clock)
        return url

    def stop(self) -> None:
        """Idempotent: a second call (or one after a failed start) does nothing more."""
        if self._supervision is not None:
            self._supervision.cancel()
        if self._loop.running:
            try:
                self._loop.run(self._stop(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("the owner API did not stop within %g s", STOP_TIMEOUT_S)
        self._loop.stop()

    async def _stop(self) -> None:
        if self.site is not None:
            await self.site.close()
        if self.live is not None:
            await self.live.close("service stopping")
        if self._server is not None:
            await self._server.stop()
        if self._passwords is not None:
            self._passwords.close()
        if self.context is not None and self._conn is not None:
            self.context.logins.failures.flush()  # what the audit left out this hour
        if self._conn is not None:
            self._conn.close()
            self._conn = None
