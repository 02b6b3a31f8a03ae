"""The site's composition root: its database, accounts, grants, the devices' directory, the
broker connection and the HTTP server, on one event loop.

Whenever a device publishes its cameras (or comes online) and whenever a grant changes, the site
works out the grant set of every device concerned and sends it (retained) when it changed
(:meth:`SiteBroker.publish_grants`). A parent who wants to watch gets a ticket from the device
that films the camera (:meth:`SiteService.watch`); the site only checks first that the camera
films one of the parent's rooms, so it never even asks for another room.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid

from camera_app.logins import LoginLimiter
from camera_app.passwords import PasswordWorkers
from camera_app.sitelink.protocol import TicketReply, TicketRequest
from firmware.clock import Clock
from privacy.gates.viewers import TERMS_VERSION
from site_app.accounts import Login, SiteAccounts, SiteRole
from site_app.audit import DeviceAuditTrails
from site_app.broker import SiteBroker
from site_app.config import SiteConfig
from site_app.db import open_site_database
from site_app.directory import Directory, RoomCamera
from site_app.grants import SiteGrantStore, device_grant, device_grant_set
from site_app.invites import InviteStore

log = logging.getLogger(__name__)


class WatchRefused(Exception):
    """No ticket: ``code`` (the device's refusal code, or the site's own) and ``status``."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


class SiteService:
    """Everything the site's handlers use. Build it with :meth:`open` on the site's loop."""

    def __init__(
        self,
        config: SiteConfig,
        clock: Clock,
        conn: sqlite3.Connection,
        directory: Directory,
    ) -> None:
        self.config = config
        self.clock = clock
        self.conn = conn
        self.accounts = SiteAccounts(conn, clock, config.http.session_hours * 3600)
        self.grants = SiteGrantStore(conn, clock)
        self.invites = InviteStore(conn, clock, self.accounts, self.grants, config.invites)
        self.directory = directory
        self.passwords = PasswordWorkers(2, 32)
        # the device's login limiter and its defaults (5 failures per account and address in
        # 15 min; an account failing from 50 addresses slowed down), with more per address: the
        # site sits behind the relay host's proxy, so many parents may share one address
        self.limiter = LoginLimiter(5, 900, clock, per_address=200, account_slowdown=50)
        self.trails = DeviceAuditTrails(conn, clock)
        self.broker = SiteBroker(config.broker, directory, self.sync_device, self.trails)

    @classmethod
    def open(cls, config: SiteConfig, clock: Clock) -> SiteService:
        return cls(config, clock, open_site_database(config.data_dir), Directory())

    def start(self) -> None:
        self.broker.start()

    async def close(self) -> None:
        await self.broker.close()
        self.passwords.close()
        self.conn.close()

    # --- grants to devices ------------------------------------------------------------------

    def sync_device(self, device_id: str) -> None:
        """Send ``device_id`` the grants it should hold, once it said what it films."""
        state = self.directory.devices.get(device_id)
        if state is None or not state.cameras:
            return
        self.broker.publish_grants(device_id, device_grant_set(self.grants.all(), state))

    def sync_all(self) -> None:
        for device_id in list(self.directory.devices):
            self.sync_device(device_id)

    # --- what a parent sees and watches -----------------------------------------------------

    def cameras_of(self, login: Login) -> list[RoomCamera]:
        """The cameras filming a room of the parent's grant (every camera for staff)."""
        if login.account.role == SiteRole.STAFF:
            return [c for cams in self.directory.rooms().values() for c in cams]
        grant = self.grants.get(login.account.id)
        if grant is None:
            return []
        return [c for room in grant.rooms for c in self.directory.cameras_of_room(room)]

    async def watch(self, login: Login, device_id: str, camera_id: str) -> TicketReply:
        """A relay ticket for ``login`` from the device filming ``camera_id``; raises
        :class:`WatchRefused`. The device decides; the site only refuses first what is not the
        parent's at all (another room, no grant)."""
        account = login.account
        if account.role != SiteRole.PARENT:
            raise WatchRefused(403, "parents_only", "staff watch on the devices themselves")
        grant = self.grants.get(account.id)
        camera = self.directory.camera(device_id, camera_id)
        state = self.directory.devices.get(device_id)
        if grant is None or camera is None or state is None or camera.room not in grant.rooms:
            raise WatchRefused(403, "wrong_camera", "this camera films none of your rooms")
        if grant.terms != TERMS_VERSION:
            raise WatchRefused(403, "terms_required", "accept the viewing terms first")
        site_grant = device_grant(grant, state)
        assert site_grant is not None  # the camera's room is granted and filmed by the device
        request = TicketRequest(
            request_id=uuid.uuid4().hex,
            account=account.id,
            camera=camera_id,
            grant=site_grant,
            login_expires_at=login.expires_at,
        )
        reply = await self.broker.request_ticket(device_id, request)
        if not reply.ok:
            raise WatchRefused(403, reply.error or "refused", reply.reason or "refused")
        return reply
