"""The live subsystem in one object: the stream controller, the frame hub, the viewer sessions,
relay publishing, the viewing rules, the privacy feed of the live camera, the auto-start of
merchant cameras, and the once-a-second supervision that starts what should run by itself and
ends whatever may no longer run.

Built by the composition root (:mod:`camera_app.app`) on the event loop that serves the owner
API, then handed to the API (which only speaks HTTP), to MQTT (:meth:`stream_states`, the
controller's ``stop`` and the re-attestation reminders) and to the capture loop
(:meth:`open_feed`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from camera_app.config.app import AppConfig
from camera_app.live.access import ViewingRules
from camera_app.live.autostart import AutoStart, AutoStartSettings
from camera_app.live.controller import StreamController
from camera_app.live.feed import LivePrivacyFeed
from camera_app.live.relay import RelayPublishing
from camera_app.live.tickets import (
    KEY_FILE,
    RelayHolder,
    RelayTicket,
    RelayTickets,
    TicketRefused,
    key_id,
    load_ticket_key,
)
from camera_app.logins import LoginSessions, Principal
from firmware.clock import Clock
from firmware.indicator import StreamingIndicator
from firmware.paths import StoragePaths
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import RELAY_CLASS_MARK_PROFILES, Role
from privacy.gates.schedule import local_time
from privacy.gates.store import NoticeReminder
from privacy.gates.viewers import Access, CameraInfo
from privacy.registration import RegistrationStore
from privacy.stage import PrivacyStage
from streaming.hub import FrameHub
from streaming.track import Overlay
from streaming.watermark import Watermark
from streaming.whep import SessionRefused, ViewerSession, ViewerSessions

log = logging.getLogger(__name__)

TICK_S = 1.0
ACTOR = "gates"  # who stops every stream when a gate check fails, in the audit log


@dataclass(frozen=True, slots=True)
class LiveViewing:
    """Who watches through one viewer session: what the owner's "who is watching now" shows."""

    session_id: str
    camera_id: str
    username: str
    role: Role
    label: str | None  # a public link's label (public viewers have no account name)
    started_at: float
    remote: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.session_id,
            "camera_id": self.camera_id,
            "username": self.username,
            "role": self.role,
            "label": self.label,
            "started_at": self.started_at,
            "remote": self.remote,
        }


@dataclass
class LiveSubsystem:
    """Everything that decides, produces and serves live video. Its async methods run on
    :attr:`loop`; the controller and the hub are safe from any thread."""

    loop: asyncio.AbstractEventLoop
    clock: Clock
    audit: AuditLog
    controller: StreamController
    rules: ViewingRules
    hub: FrameHub
    viewer_sessions: ViewerSessions
    relay: RelayPublishing
    autostart: AutoStart
    tickets: RelayTickets | None = None  # with a relay: its viewers' tickets
    _ending: set[asyncio.Future[Any]] = field(default_factory=set)  # kept until done
    _viewings: dict[str, LiveViewing] = field(default_factory=dict)  # by session id
    _ended_by: dict[str, str] = field(default_factory=dict)  # session id -> who ended it
    # the open login sessions among some users' (set by follow_logins)
    _open_logins: Callable[[Collection[str]], set[str]] | None = None

    # --- wiring to the other faces of the app ----------------------------------------------

    def open_feed(self, camera_id: str, build_stage: Callable[[], PrivacyStage]) -> LivePrivacyFeed:
        """The privacy stage on a live camera (idle until its stream starts), started."""
        feed = LivePrivacyFeed(
            camera_id,
            build_stage=build_stage,
            publish=self.hub.publish,
            clear=self.hub.clear,
            is_live=self.controller.is_live,
            stop_stream=self.controller.stop,
        )
        self.controller.add_stop_listener(feed.stream_stopped)
        feed.start()
        return feed

    def stream_states(self) -> dict[str, dict[str, object]]:
        """Per camera: ``{"state": "monitoring"|"streaming", "reason": last stop reason}``."""
        return {
            cid: {"state": st.state.value, "reason": st.reason}
            for cid in self.controller.cameras
            if (st := self.controller.status(cid))
        }

    def reminders_to_send(self) -> list[NoticeReminder]:
        """Today's re-attestation reminders that MQTT has not taken yet (any thread)."""
        return self.controller.gates.reminders_to_send(self.controller.today())

    def reminder_sent(self, reminder: NoticeReminder) -> None:
        """MQTT has taken the reminder (any thread)."""
        self.controller.gates.reminder_sent(reminder)

    # --- viewers -------------------------------------------------------------------------------

    async def watch(
        self, camera: CameraInfo, principal: Principal, access: Access, offer: str, remote: str
    ) -> tuple[ViewerSession, str]:
        """Open a viewer session for a caller already allowed to watch (``access``) from the
        address ``remote``; returns the session and the SDP answer. Its start and its end are
        written to the audit log; it ends when the caller's login session ends. Raises
        :class:`streaming.whep.SessionRefused` (limits, malformed offer, no login session)."""
        public = principal.role == Role.PUBLIC
        if principal.session_id is None or (public and principal.subject_id is None):
            # every viewer session is tied to the login that opens it (it ends with it)
            raise SessionRefused(403, "login_required", "watching needs a login session")
        session, answer = await self.viewer_sessions.open(
            camera.id,
            principal.username,
            offer,
            principal,
            overlay=self._watermark(principal) if access.watermark else None,
            # a public audience shares one name per link: each login (each phone) counts alone
            holder=f"login:{principal.session_id}" if public else f"account:{principal.username}",
            login=principal.session_id,
            link=principal.subject_id if public else None,
            owner=principal.role == Role.OWNER,
        )
        link = self.rules.link(principal)
        self._viewings[session.id] = LiveViewing(
            session.id,
            camera.id,
            principal.username,
            principal.role,
            link.label if link else None,
            self.clock.wall(),
            remote,
        )
        session.on_end.append(self._audit_session_end)
        self.audit.append(
            AuditEvent.SESSION_STARTED,
            actor=principal.username,
            camera_id=camera.id,
            details={
                "session": session.id[:8],
                "role": principal.role,
                "watermark": access.watermark,
            },
        )
        return session, answer

    def _watermark(self, principal: Principal) -> Watermark:
        tz, wall = self.controller.tz, self.clock.wall
        return Watermark(watermark_label(principal), lambda: local_time(wall(), tz))

    def relay_refusal(
        self, camera: CameraInfo, principal: Principal, access: Access
    ) -> TicketRefused | None:
        """Why a caller allowed to watch ``camera`` (``access``) gets no relay ticket, if they do
        not: ``not_on_relay`` (watch on the device), ``login_required``, or ``watch_on_device``
        for a viewer whose frames must carry their own watermark on a camera whose relay stream
        carries none (a home camera's watermarked family member)."""
        if self.tickets is None or not self.relay.publishing(camera.id):
            return TicketRefused("not_on_relay", "the camera is not on the relay now")
        if principal.session_id is None:
            return TicketRefused("login_required", "a relay ticket needs a login session")
        if access.watermark and camera.profile not in RELAY_CLASS_MARK_PROFILES:
            return TicketRefused(
                "watch_on_device", "your stream carries your watermark: watch on the device"
            )
        return None

    def relay_ticket(self, camera: CameraInfo, principal: Principal, access: Access) -> RelayTicket:
        """A relay ticket for a caller already allowed to watch ``camera`` (``access``), if the
        camera is on the relay now; audited. Raises :class:`TicketRefused` (:meth:`relay_refusal`).
        """
        refusal = self.relay_refusal(camera, principal, access)
        if refusal is not None:
            raise refusal
        assert self.tickets is not None
        mark = watermark_label(principal) if access.watermark else None
        return self.tickets.issue(principal, camera, access, mark=mark)

    def viewings(self) -> list[LiveViewing]:
        """Every open viewer session, and every viewer holding a live relay ticket (``remote``:
        ``relay``), oldest first."""
        viewings = list(self._viewings.values())
        if self.tickets is not None:
            viewings += [self._relay_viewing(h) for h in self.tickets.holders()]
        return sorted(viewings, key=lambda v: v.started_at)

    def _relay_viewing(self, holder: RelayHolder) -> LiveViewing:
        link = self.rules.link(holder.principal)
        return LiveViewing(
            holder.id,
            holder.camera_id,
            holder.principal.username,
            holder.principal.role,
            link.label if link else None,
            holder.since,
            "relay",
        )

    async def end_session(self, session_id: str, *, actor: str) -> LiveViewing | None:
        """End someone's viewer session (or viewing on the relay: their tickets are revoked and
        the relay ends it) at once; the audit record names ``actor`` as who ended it and the
        viewer whose session it was. None when no such session is open."""
        if self.tickets is not None and session_id.startswith("relay-"):
            holder = self.tickets.revoke_holder(session_id, actor=actor)
            return self._relay_viewing(holder) if holder is not None else None
        viewing = self._viewings.get(session_id)
        if viewing is None or self.viewer_sessions.get(session_id) is None:
            return None
        self._ended_by[session_id] = actor
        try:
            await self.viewer_sessions.close(session_id, f"ended by {actor}")
        finally:
            self._ended_by.pop(session_id, None)
        return viewing

    def _audit_session_end(self, session: ViewerSession, reason: str) -> None:
        viewing = self._viewings.pop(session.id, None)
        ended_by = self._ended_by.get(session.id)
        details: dict[str, object] = {"session": session.id[:8], "reason": reason}
        if ended_by is not None:
            details["viewer"] = session.account
            details["role"] = viewing.role if viewing else None
        self.audit.append(
            AuditEvent.SESSION_ENDED,
            actor=ended_by or session.account,
            camera_id=session.camera_id,
            details=details,
        )

    def follow_logins(self, logins: LoginSessions) -> None:
        """Tie every viewer session to the login session that opened it: when a login ends
        (logout, password change, ended from another device, revocation) its streams end at
        once, and the supervision ends those whose login expired or is gone."""
        logins.add_end_listener(self._logins_ended)
        self._open_logins = logins.open_ids

    def _logins_ended(self, session_ids: Collection[str], reason: str) -> None:
        """End listener of the login sessions (any thread). On the loop, inside the request
        that ended the logins, their streams stop before it answers."""
        ended = set(session_ids)

        def end() -> None:
            self.viewer_sessions.end_matching(lambda seat: seat.login in ended, reason)
            if self.tickets is not None:
                self.tickets.revoke_for_logins(ended, reason)

        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # no loop in this thread
            on_loop = False
        if on_loop:
            end()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(end)

    # --- supervision ---------------------------------------------------------------------------

    async def end_sessions_not_allowed(self) -> int:
        """End every live-view session whose caller may no longer watch (login expired or ended,
        schedule over, revoked, expired, stream stopped); returns how many were ended."""
        ended = 0
        sessions = self.viewer_sessions.of_all()
        now = self.clock.wall()
        logged_in = (
            self._open_logins({s.principal.username for s in sessions})
            if self._open_logins is not None and sessions
            else None
        )
        for session in sessions:
            login = session.seat.login
            if session.principal.expires_at <= now:
                ended += await self.viewer_sessions.close(session.id, "login expired")
                continue
            if logged_in is not None and login is not None and login not in logged_in:
                # the end listener normally got there first; this catches any other way out
                ended += await self.viewer_sessions.close(session.id, "login ended")
                continue
            camera = self.controller.cameras.get(session.camera_id)
            access = self.rules.access(session.principal, camera) if camera else None
            if access is None or not access.allowed:
                reason = access.reason if access and access.reason else "not allowed"
                ended += await self.viewer_sessions.close(session.id, reason)
        return ended

    async def supervise(self) -> None:
        """Once a second, until cancelled: run the auto-start (it starts and stops merchant
        streams at the edges of the posted hours), re-check the gates (time-based ones close a
        stream within a second even when nobody calls the API), end sessions that may no longer
        watch, and reconcile relay publishing.

        Publishing to the relay talks to another host (up to its timeout): it runs beside this
        loop, never inside it, so a slow relay cannot delay a gate or a parent's cut-off.
        """
        relay: asyncio.Task[None] | None = None
        while True:
            await asyncio.sleep(TICK_S)
            # before the gates: at the end of the hours an auto-started stream is stopped by the
            # auto-start, with its reason, rather than by the notice_hours gate
            try:
                self.autostart.tick()
            except Exception:  # it only fails to start (or the gate stops it): keep ticking
                log.exception("the auto-start check failed")
            try:
                self.controller.reevaluate()
                await self.end_sessions_not_allowed()
                self._check_tickets()
                if relay is None or relay.done():
                    relay = asyncio.create_task(self.relay.reconcile(list(self.controller.cameras)))
                    relay.add_done_callback(_report_relay_failure)
            except Exception:  # keep ticking: a failing check must not freeze the gates open
                log.exception("re-checking the streaming gates failed; stopping every stream")
                self.controller.stop_all(ACTOR, "gate check failed")

    def _check_tickets(self) -> None:
        """Revoke the relay tickets of callers who may no longer watch, and keep the relay's
        revocation list current (pushed again every few seconds, e.g. to a restarted relay)."""
        if self.tickets is None:
            return
        self.tickets.revoke_not_allowed(self.rules, self.controller.cameras)
        if self.tickets.push_due():
            self.tickets.push_soon()

    async def close(self, reason: str) -> None:
        """Stop every stream, then end relay publications and viewer sessions."""
        self.controller.stop_all("service", reason)
        await self.relay.close_all(reason)
        await self.viewer_sessions.close_all(reason)
        if self.tickets is not None:
            await self.tickets.close()

    def _end_camera(self, camera_id: str, reason: str) -> None:
        """Stop listener (any thread): end the camera's sessions and relay publication."""

        def end() -> None:
            for work in (
                self.viewer_sessions.close_camera(camera_id, reason),
                self.relay.stop(camera_id, reason),
            ):
                task = asyncio.ensure_future(work)
                self._ending.add(task)
                task.add_done_callback(self._ending.discard)

        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(end)


def cameras_from_config(config: AppConfig) -> dict[str, CameraInfo]:
    """Every camera of the config (one, or each of ``cameras:``), in the order listed."""
    profile = config.streaming.profile
    return {
        (cam := view.camera).id: CameraInfo(cam.id, cam.name, cam.room, profile)
        for view in config.views()
    }


def build_live(
    config: AppConfig,
    conn: sqlite3.Connection,
    clock: Clock,
    indicator: StreamingIndicator,
    registrations: RegistrationStore,
    audit: AuditLog,
    *,
    cameras: Mapping[str, CameraInfo] | None = None,
) -> LiveSubsystem:
    """Build the live subsystem; call it on the event loop that will serve it."""
    loop = asyncio.get_running_loop()
    controller = StreamController(
        conn,
        cameras if cameras is not None else cameras_from_config(config),
        config.streaming,
        indicator,
        clock,
        config.tzinfo(),
        registrations,
        audit,
    )
    hub = FrameHub(loop)
    viewer_sessions = ViewerSessions(hub, config.streaming.viewers)
    tz = controller.tz

    def class_mark(camera_id: str) -> Overlay | None:
        camera = controller.cameras.get(camera_id)
        if camera is None or camera.profile not in RELAY_CLASS_MARK_PROFILES:
            return None
        return Watermark(class_mark_label(camera), lambda: local_time(clock.wall(), tz))

    relay = RelayPublishing(
        config.streaming.relay,
        viewer_sessions,
        controller.is_live,
        audit,
        clock.monotonic,
        class_mark,
    )
    tickets = None
    if config.streaming.relay.whip_url is not None:
        key = load_ticket_key(StoragePaths(config.storage.data_dir).secrets / KEY_FILE)
        tickets = RelayTickets(
            key,
            config.streaming.relay,
            clock,
            audit,
            issuer=device_id(config, key_id(key.public_key())),
        )
    live = LiveSubsystem(
        loop=loop,
        clock=clock,
        audit=audit,
        controller=controller,
        rules=ViewingRules(
            controller,
            clock,
            live_childcare_permitted=config.streaming.live_childcare_viewing_permitted,
        ),
        hub=hub,
        viewer_sessions=viewer_sessions,
        relay=relay,
        autostart=AutoStart(controller, AutoStartSettings(conn, clock, audit), clock),
        tickets=tickets,
    )
    controller.add_stop_listener(live._end_camera)
    return live


def watermark_label(principal: Principal) -> str:
    """The account id burned into a viewer's frames: the viewer's id (ASCII hex, and it names
    the viewer in the audit log), else a digest of the user name (names may be Chinese)."""
    ident = principal.subject_id or hashlib.sha256(principal.username.encode()).hexdigest()
    return f"viewer {ident[:12]}"


def class_mark_label(camera: CameraInfo) -> str:
    """The per-class mark of a camera's relay stream: its room (or camera id) in ASCII; a room
    name that is not ASCII (e.g. Chinese, which the watermark font cannot draw) by a digest."""
    room = camera.room or camera.id
    if not (room.isascii() and room.isprintable()):
        room = hashlib.sha256(room.encode()).hexdigest()[:8]
    return f"class {room}"


def device_id(config: AppConfig, kid: str) -> str:
    """The ``iss`` of this device's relay tickets: its MQTT device id if it has one, else one
    made from its ticket key."""
    return config.mqtt.device_id or f"camera-{kid}"


def _report_relay_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing to the relay failed", exc_info=task.exception())
