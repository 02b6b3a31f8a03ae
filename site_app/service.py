"""The site's composition root: its database, accounts, grants, the devices' directory, the
broker connection and the HTTP server, on one event loop.

Whenever a device publishes its cameras (or comes online) and whenever a grant changes, the site
works out the grant set of every device concerned and sends it (retained) when it changed
(:meth:`SiteBroker.publish_grants`). A parent who wants to watch gets a ticket from the device
that films the camera (:meth:`SiteService.watch`); the site only checks first that the camera
films one of the parent's rooms, so it never even asks for another room.

Every change the site makes (an account created or disabled, a grant put or withdrawn, the
viewing terms accepted, a password changed), every staff login and every ticket asked of a
device (with the device's answer) is written to the site's own hash-chained audit log
(``privacy.audit.AuditLog``, site migration 0003) in the same transaction as the change.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
import uuid

from camera_app.logins import LoginLimiter
from camera_app.passwords import PasswordWorkers
from camera_app.sitelink.protocol import EndedLogins, TicketReply, TicketRequest
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.schedule import Schedule
from privacy.gates.viewers import TERMS_VERSION
from site_app.accounts import Account, Login, SiteAccounts, SiteRole, create_account
from site_app.audit import DeviceAuditTrails
from site_app.broker import DeviceUnreachable, SiteBroker
from site_app.config import SiteConfig
from site_app.db import open_site_database
from site_app.directory import Directory, RoomCamera
from site_app.grants import ParentGrant, SiteGrantStore, device_grant, device_grant_set
from site_app.invites import InviteStore
from site_app.pauses import RoomPauses
from site_app.resets import PasswordResets
from site_app.setup import SiteSetup

log = logging.getLogger(__name__)

PAUSE_CHECK_S = 1.0  # how often the site looks for timed pauses that are over


class WatchRefused(Exception):
    """No ticket: ``code`` (the device's refusal code, or the site's own) and ``status``."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = reason


class GrantRefused(ValueError):
    """A grant staff asked for that the site does not put: ``code`` and the reason in words."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
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
        self.directory = directory
        self.passwords = PasswordWorkers(2, 32)
        # held from the check of the current password to the new hash's write, so two changes
        # of one account cannot interleave (each checked against the same old password)
        self.password_change = asyncio.Lock()
        # the device's login limiter and its defaults (5 failures per account and address in
        # 15 min; an account failing from 50 addresses slowed down), with more per address: the
        # site sits behind the relay host's proxy, so many parents may share one address
        self.limiter = LoginLimiter(5, 900, clock, per_address=200, account_slowdown=50)
        self.trails = DeviceAuditTrails(conn, clock)
        self.audit = AuditLog(conn, clock)
        self.invites = InviteStore(
            conn, clock, self.accounts, self.grants, self.audit, config.invites
        )
        self.resets = PasswordResets(conn, clock, self.accounts, self.audit)
        self.setup = SiteSetup(conn, clock, self.accounts, self.audit)
        self.pauses = RoomPauses(conn, clock, self.audit)
        self._pause_timer: asyncio.TimerHandle | None = None
        self.broker = SiteBroker(config.broker, directory, self.sync_device, self.trails)

    @classmethod
    def open(cls, config: SiteConfig, clock: Clock) -> SiteService:
        return cls(config, clock, open_site_database(config.data_dir), Directory())

    def start(self) -> None:
        """Connect to the broker and start ending timed pauses; on the site's loop."""
        self.broker.start()
        self._check_pauses()

    def _check_pauses(self) -> None:
        """Every second: a room whose timed pause is over goes back into the devices' grants."""
        self._pause_timer = asyncio.get_running_loop().call_later(PAUSE_CHECK_S, self._check_pauses)
        try:
            ended = self.pauses.end_due()
        except sqlite3.Error:
            log.exception("could not end the pauses that are over (tried again in a second)")
            return
        if ended:
            log.info("the pause of %s ended by itself", ", ".join(ended))
            self.sync_all()

    async def close(self) -> None:
        if self._pause_timer is not None:
            self._pause_timer.cancel()
        await self.broker.close()
        self.passwords.close()
        self.conn.close()

    # --- grants to devices ------------------------------------------------------------------

    def sync_device(self, device_id: str) -> None:
        """Send ``device_id`` the grants it should hold, once it said what it films."""
        state = self.directory.devices.get(device_id)
        if state is None or not state.cameras:
            return
        grants = device_grant_set(self.grants.all(), state, self.pauses.rooms())
        self.broker.publish_grants(device_id, grants)
        ended = self.accounts.ended_lately()
        if ended:  # a device back, or the site restarted: the logins ended within the hour
            self.broker.publish_ended_logins(device_id, EndedLogins(logins=tuple(ended)))

    def sync_all(self) -> None:
        for device_id in list(self.directory.devices):
            self.sync_device(device_id)

    # --- accounts and grants: each change with its audit record --------------------------------

    def create_account(
        self, username: str, role: SiteRole, password_hash: str, *, by: Account
    ) -> Account:
        """A new account made by staff ``by``; raises ``AccountError``."""
        return create_account(self.accounts, self.audit, username, role, password_hash, by=by)

    def disable_account(self, account: Account, *, by: Account) -> None:
        """Disable ``account``: its logins end, its grant is withdrawn (and the devices told)."""
        with self.audit.transaction():
            ended = self.accounts.disable(account.id)
            self.resets.withdraw(account.id)
            withdrawn = self.grants.remove(account.id)
            self.audit.append(
                AuditEvent.SITE_ACCOUNT_DISABLED,
                actor=by.username,
                details={"account": account.id, "username": account.username},
            )
            if withdrawn:
                self.audit.append(
                    AuditEvent.SITE_GRANT_WITHDRAWN,
                    actor=by.username,
                    details={"account": account.id, "username": account.username},
                )
        self.sync_all()
        self._logins_ended(ended)

    def enable_account(self, account_id: str, *, by: Account) -> Account | None:
        """Enable a disabled account again, audited; its grant is not given back (staff give one
        anew, so nothing returns that nobody looked at). None: no such disabled account."""
        with self.audit.transaction():
            account = self.accounts.enable(account_id)
            if account is None:
                return None
            self.audit.append(
                AuditEvent.SITE_ACCOUNT_ENABLED,
                actor=by.username,
                details={"account": account.id, "username": account.username},
            )
        return account

    def put_grant(
        self,
        account: Account,
        rooms: list[str],
        schedule: Schedule,
        expires_at: float,
        *,
        by: Account,
    ) -> ParentGrant:
        """Give ``account`` (a parent) ``rooms`` on ``schedule`` until ``expires_at``; raises
        :class:`GrantRefused` for a room no device films or an end date not in the future."""
        if not rooms:
            raise GrantRefused("no_rooms", "pick at least one room")
        known = set(self.directory.rooms())
        unknown = sorted(set(rooms) - known)
        if unknown:
            raise GrantRefused("unknown_room", f"no device films {', '.join(unknown)}")
        if not math.isfinite(expires_at) or expires_at <= self.clock.wall():
            raise GrantRefused("expires_in_past", "the end date must be in the future")
        with self.audit.transaction():
            grant = self.grants.put(account.id, rooms, schedule, expires_at, by=by.id)
            self.audit.append(
                AuditEvent.SITE_GRANT_PUT,
                actor=by.username,
                details={
                    "account": account.id,
                    "username": account.username,
                    "rooms": list(grant.rooms),
                    "schedule": schedule.model_dump(mode="json"),
                    "expires_at": expires_at,
                },
            )
        self.sync_all()
        return grant

    def withdraw_grant(self, account: Account, *, by: Account) -> bool:
        """Withdraw ``account``'s grant (the devices revoke it); False when it held none."""
        with self.audit.transaction():
            if not self.grants.remove(account.id):
                return False
            self.audit.append(
                AuditEvent.SITE_GRANT_WITHDRAWN,
                actor=by.username,
                details={"account": account.id, "username": account.username},
            )
        self.sync_all()
        return True

    def accept_terms(self, account: Account) -> None:
        """The parent accepted the current viewing terms; their grant goes to the devices."""
        with self.audit.transaction():
            self.accounts.accept_terms(account.id, TERMS_VERSION)
            self.audit.append(
                AuditEvent.SITE_TERMS_ACCEPTED,
                actor=account.username,
                details={"account": account.id, "version": TERMS_VERSION},
            )
        self.sync_all()

    def change_password(self, account: Account, password_hash: str, *, keep: str) -> None:
        """The account's new password (its other logins end), audited."""
        with self.audit.transaction():
            ended = self.accounts.set_password(account.id, password_hash, keep=keep)
            self.audit.append(
                AuditEvent.SITE_PASSWORD_CHANGED,
                actor=account.username,
                details={"account": account.id},
            )
        self._logins_ended(ended)

    def reset_password(self, code: str, password_hash: str) -> Account:
        """Redeem a reset code (:meth:`PasswordResets.redeem`); every login of its account ends
        (their relay tickets too). Raises ``ResetRefused`` with nothing changed."""
        account, ended = self.resets.redeem(code, password_hash)
        self._logins_ended(ended)
        return account

    def log_out(self, token: str) -> None:
        """End the login of ``token`` (and the relay tickets the devices gave for it)."""
        self._logins_ended(self.accounts.log_out(token))

    def _logins_ended(self, refs: list[str]) -> None:
        """Tell every device (retained) the logins ended early within the longest life of a
        relay ticket, so that each revokes the tickets it gave for them: the stream on a phone
        that logged out, or was lost before its password was changed, ends at the relay."""
        if refs:
            ended = EndedLogins(logins=tuple(self.accounts.ended_lately()))
            for device_id in list(self.directory.devices):
                self.broker.publish_ended_logins(device_id, ended)

    def logged_in(self, account: Account, client: str) -> tuple[str, Login]:
        """A new login of ``account`` after its password was checked; staff logins are audited
        (parents' are not: a class's parents log in every day, and their tickets are)."""
        with self.audit.transaction():
            token, login = self.accounts.log_in(account)
            if account.role == SiteRole.STAFF:
                self.audit.append(
                    AuditEvent.LOGIN_OK,
                    actor=account.username,
                    details={"role": account.role.value, "client": client},
                )
        return token, login

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
        if camera.room in self.pauses.rooms():
            raise WatchRefused(409, "room_paused", "the school has paused viewing of this room")
        shared = self.directory.clashes().get(camera_id)
        if shared is not None:
            log.warning("no ticket for camera %r: devices %s all use that id", camera_id, shared)
            raise WatchRefused(
                409,
                "camera_id_clash",
                f"devices {', '.join(shared)} all have a camera {camera_id!r}: the relay cannot "
                "tell them apart; the school must rename one",
            )
        site_grant = device_grant(grant, state)
        assert site_grant is not None  # the camera's room is granted and filmed by the device
        request = TicketRequest(
            request_id=uuid.uuid4().hex,
            account=account.id,
            camera=camera_id,
            grant=site_grant,
            login_expires_at=login.expires_at,
            login=login.ref,
        )
        try:
            reply = await self.broker.request_ticket(device_id, request)
        except DeviceUnreachable:
            self._ticket_asked(account, device_id, camera_id, "device_unreachable")
            raise
        self._ticket_asked(account, device_id, camera_id, "ok" if reply.ok else reply.error)
        if not reply.ok:
            raise WatchRefused(403, reply.error or "refused", reply.reason or "refused")
        return reply

    def _ticket_asked(self, account: Account, device: str, camera: str, code: str | None) -> None:
        self.audit.append(
            AuditEvent.SITE_TICKET_ASKED,
            actor=account.username,
            camera_id=camera,
            details={"account": account.id, "device": device, "answer": code or "refused"},
        )
