"""The device's link to its site: connects out to the site's broker, publishes its cameras,
takes the site's grants and answers the site's ticket requests under the device's own rules.

paho-mqtt runs the connection on its own thread and reconnects by itself (1 s doubling to
``site.reconnect_max_s``); every message is handed to the owner API's event loop, where the live
subsystem, the viewers and the audit log live, so a ticket for a site account is decided exactly
as one for a local viewer: :meth:`ViewingRules.access` (grant, room, schedule, end date,
consent, revocation, the stream live) and :meth:`LiveSubsystem.relay_ticket` (the camera on the
relay; audited ``relay_ticket_issued``). The site never issues a ticket: it only asks.

The device connects with a clean session: a ticket request sent while it was away is not
answered later (the site has given up on it by then); the grant set is retained, so the device
gets the current one on every connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from camera_app.live.subsystem import LiveSubsystem
from camera_app.live.tickets import TicketRefused
from camera_app.logins import Principal
from camera_app.mqtt.commands import RateLimiter
from camera_app.mqtt.tls import client_context
from camera_app.sitelink.config import SiteLinkConfig
from camera_app.sitelink.grants import SiteGrants
from camera_app.sitelink.protocol import (
    MAX_PAYLOAD,
    AuditHead,
    AuditRecordMessage,
    AuditRecords,
    AuditRequest,
    CameraAnnouncement,
    DeviceCameras,
    EndedLogins,
    GrantSet,
    SiteTopics,
    TicketReply,
    TicketRequest,
)
from firmware.clock import Clock
from privacy import audit

log = logging.getLogger(__name__)

QOS = 1
HEAD_CHECK_S = 1.0  # how often the audit log's head is compared with the one the site has


class SiteLink:
    """One device's connection to its site. Build it on the owner API's loop."""

    def __init__(
        self,
        config: SiteLinkConfig,
        device_id: str,
        live: LiveSubsystem,
        grants: SiteGrants,
        clock: Clock,
        conn: sqlite3.Connection,
    ) -> None:
        self._config = config
        self._conn = conn  # the owner API's connection, for reading the audit log
        self.topics = SiteTopics(config.prefix, device_id)
        self._live = live
        self._grants = grants
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._limiter = RateLimiter(config.requests_per_minute, clock.monotonic)
        self._connected = threading.Event()
        self._head_sent: AuditHead | None = None  # None: (re)send at the next check
        self._head_timer: asyncio.TimerHandle | None = None
        self._client = self._make_client(device_id)

    def _make_client(self, device_id: str) -> mqtt.Client:
        cfg = self._config
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=device_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.will_set(self.topics.availability, "offline", qos=QOS, retain=True)
        if cfg.tls:
            client.tls_set_context(client_context(cfg.ca_file, cfg.cert_file, cfg.key_file))
        client.reconnect_delay_set(min_delay=1, max_delay=int(cfg.reconnect_max_s))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; the device works the same while the site is away."""
        log.info(
            "site: connecting to %s:%d as %s",
            self._config.host,
            self._config.port,
            self.topics.device_id,
        )
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive_s)
        self._client.loop_start()
        self._head_timer = self._loop.call_later(HEAD_CHECK_S, self._check_head)

    async def close(self, timeout: float = 5.0) -> None:
        """Say ``offline`` (retained) and disconnect."""
        if self._head_timer is not None:
            self._head_timer.cancel()
        await asyncio.to_thread(self._close, timeout)

    def _close(self, timeout: float) -> None:
        if self._connected.is_set():
            info = self._client.publish(self.topics.availability, "offline", QOS, retain=True)
            # if the connection went away meanwhile, the last will says the same
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # --- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("site: the broker refused the connection: %s", reason)
            return
        log.info("site: connected to %s:%d", self._config.host, self._config.port)
        client.publish(self.topics.availability, "online", QOS, retain=True)
        client.publish(self.topics.cameras, self._cameras().to_bytes(), QOS, retain=True)
        client.subscribe(
            [
                (self.topics.grants, QOS),
                (self.topics.ticket_request, QOS),
                (self.topics.audit_request, QOS),
                (self.topics.logins_ended, QOS),
            ]
        )
        self._head_sent = None  # a new connection: the head is sent again
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        log.info("site: disconnected (%s)", reason)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        if len(message.payload) > MAX_PAYLOAD:
            log.warning(
                "site: dropped a message of %d bytes on %s", len(message.payload), message.topic
            )
            return
        self._loop.call_soon_threadsafe(self._handle, message.topic, bytes(message.payload))

    # --- the owner API's loop ---------------------------------------------------------------

    def _cameras(self) -> DeviceCameras:
        cameras = self._live.controller.cameras.values()
        return DeviceCameras(
            device=self.topics.device_id,
            cameras=tuple(
                CameraAnnouncement(id=c.id, name=c.name, room=c.room, profile=str(c.profile))
                for c in cameras
            ),
        )

    def _handle(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.grants:
            self._take_grants(payload)
        elif topic == self.topics.ticket_request:
            reply = self._answer(payload)
            if reply is not None:
                self._client.publish(self.topics.ticket_reply, reply.to_bytes(), QOS)
        elif topic == self.topics.audit_request:
            self._send_audit(payload)
        elif topic == self.topics.logins_ended:
            self._end_logins(payload)

    # --- the audit trail: the site follows the device's log and checks its chain ------------

    def _check_head(self) -> None:
        """Publish the audit log's head (retained) when it moved or the connection is new."""
        self._head_timer = self._loop.call_later(HEAD_CHECK_S, self._check_head)
        if not self._connected.is_set():
            return
        seq, digest = audit.head(self._conn)
        current = AuditHead(seq=seq, hash=digest)
        if current != self._head_sent:
            self._head_sent = current
            self._client.publish(self.topics.audit_head, current.to_bytes(), QOS, retain=True)

    def _send_audit(self, payload: bytes) -> None:
        try:
            request = AuditRequest.model_validate_json(payload)
        except ValidationError as err:
            log.warning("site: refused an audit request: %s", _first_error(err))
            return
        records = audit.records_after(self._conn, request.after, request.limit)
        reply = AuditRecords(
            request_id=request.request_id,
            records=tuple(AuditRecordMessage.model_validate(r.to_json()) for r in records),
        )
        self._client.publish(self.topics.audit_records, reply.to_bytes(), QOS)

    def _end_logins(self, payload: bytes) -> None:
        """Revoke the relay tickets given for site logins that ended early (a parent logged out,
        their password was changed or reset): the relay ends those streams at once."""
        if not payload:
            return  # the site cleared the list
        try:
            ended = EndedLogins.model_validate_json(payload)
        except ValidationError as err:
            log.warning("site: refused a list of ended logins: %s", _first_error(err))
            return
        tickets = self._live.tickets
        if tickets is not None and ended.logins:
            sessions = {_session_id(e.account, e.login) for e in ended.logins}
            tickets.revoke_for_logins(sessions, "site login ended")

    def _take_grants(self, payload: bytes) -> None:
        if not payload:
            grants = GrantSet()  # the site cleared its retained grant set: it grants nothing
        else:
            try:
                grants = GrantSet.model_validate_json(payload)
            except ValidationError as err:
                log.warning("site: refused a grant set: %s", _first_error(err))
                return  # the grants held stay as they are
        ack = self._grants.apply(grants)
        tickets = self._live.tickets
        if tickets is not None:  # a withdrawn grant's tickets now, not at the next check
            tickets.revoke_not_allowed(self._live.rules, self._live.controller.cameras)
        log.info("site: %d grant(s) held, %d refused", len(ack.accepted), len(ack.refused))
        self._client.publish(self.topics.grants_ack, ack.to_bytes(), QOS, retain=True)

    def _answer(self, payload: bytes) -> TicketReply | None:
        request_id = _request_id(payload)
        if request_id is None:
            log.warning("site: dropped a ticket request without a request_id")
            return None
        if not self._limiter.allow():
            return _refuse(request_id, "rate_limited", "too many ticket requests")
        try:
            request = TicketRequest.model_validate_json(payload)
        except ValidationError as err:
            return _refuse(request_id, "invalid_payload", _first_error(err))
        return self.decide(request)

    def decide(self, request: TicketRequest) -> TicketReply:
        """A ticket for the site account of ``request``, or why not: the camera must be one of
        this device's, the grant the one the device accepted, and the account allowed to watch
        it now by the device's rules."""
        rid = request.request_id
        camera = self._live.controller.cameras.get(request.camera)
        if camera is None:
            return _refuse(rid, "unknown_camera", "no such camera on this device")
        viewer = self._grants.viewer_for(request.account, request.grant)
        if viewer is None:
            return _refuse(rid, "unknown_grant", "the device holds no such grant for this account")
        now = self._clock.wall()
        if request.login_expires_at <= now:
            return _refuse(rid, "login_expired", "the site login has ended")
        principal = Principal(
            username=viewer.username,
            role=viewer.role,
            subject_id=viewer.id,
            expires_at=request.login_expires_at,
            session_id=_session_id(request.account, request.login),
        )
        access = self._live.rules.access(principal, camera)
        if not access.allowed:
            return _refuse(rid, access.reason or "not_allowed", "not allowed to watch now")
        try:
            ticket = self._live.relay_ticket(camera, principal, access)
        except TicketRefused as refused:
            return _refuse(rid, refused.code, refused.reason)
        return TicketReply(request_id=rid, ok=True, ticket=ticket.to_json())  # type: ignore[arg-type]


def _session_id(account: str, login: str | None) -> str:
    """The login id a site account's tickets are issued under (revoked by it)."""
    return f"site-{account}" if login is None else f"site-{account}-{login}"


def _refuse(request_id: str, error: str, reason: str) -> TicketReply:
    return TicketReply(request_id=request_id, ok=False, error=error, reason=reason)


def _request_id(payload: bytes) -> str | None:
    """The request id of a request that may be invalid otherwise (to answer it)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    rid = data.get("request_id") if isinstance(data, dict) else None
    try:
        return TicketReply(request_id=rid, ok=False).request_id if isinstance(rid, str) else None
    except ValidationError:
        return None


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return f"{where}: {first['msg']}"
