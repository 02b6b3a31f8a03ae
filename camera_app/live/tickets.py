"""Relay tickets: the device signs each relay viewer a short-lived ticket for one camera.

A viewer who may watch a camera now (the same decision as the device's own live view,
:class:`camera_app.live.access.ViewingRules`) gets a JWT signed with the device's Ed25519 key
(EdDSA, RFC 8037). The relay's front-end (``deploy/janus/whip_frontend.py``), installed with the
device's public key (``camera-app relay-key``), checks it when the viewer subscribes and ends the
viewer's session the moment it expires or is revoked. Claims:

- ``iss`` this device, ``aud`` the relay (its origin), ``cam`` the camera (= the relay's room);
- ``sub`` the viewer's login session id (never a name or an ID number), ``role``;
- ``exp`` the earliest of: the end of the viewer's viewing window (schedule, end date), their
  login's expiry, and now + ``relay.ticket_max_ttl_s``; ``iat``; ``jti`` a random id;
- ``mark`` (only when the viewer's frames must carry a watermark): the label a relay host may
  burn into this viewer's frames. The device marks the relay stream per class (room and time,
  :data:`privacy.gates.roles.RELAY_CLASS_MARK_PROFILES`) because one encode goes to the relay.

Revocation: the tickets issued are remembered in memory. When a login ends, a viewer is revoked
or may no longer watch (checked once a second by the supervision), their tickets are revoked and
the device pushes the list of revoked, unexpired tickets to the relay at once, signed with the same
key, and again every :data:`RESEND_S` (a restarted front-end learns it again). The list also
carries ``not_before``, when this run of the device started: tickets issued before it (which this
run cannot revoke, having forgotten them) are refused and their sessions ended, so a restart
costs viewers one reconnect, never a ticket that can no longer be revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import secrets
import ssl
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from camera_app.live.access import ViewingRules
from camera_app.logins import Principal
from firmware.clock import Clock
from firmware.errors import AppError
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.viewers import Access, CameraInfo
from streaming.relayconfig import RelayConfig

log = logging.getLogger(__name__)

KEY_FILE = "relay-ticket-key.pem"
ALGORITHM = "EdDSA"
RESEND_S = 10.0  # the revocation list is pushed again this often (a restarted front-end)
RETRY_S = 2.0  # after a failed push
PUSH_TIMEOUT_S = 5.0
ACTOR = "relay tickets"


class TicketKeyError(AppError, RuntimeError):
    """The ticket signing key cannot be read or made (mode, owner, content)."""


def load_ticket_key(path: Path) -> Ed25519PrivateKey:
    """The device's ticket signing key at ``path``, made on first use (mode 0600).

    Its own key rather than the TLS identity's: that one is ECDSA P-256 and is replaced with its
    certificate, while the relay keeps this public key from its install on."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # written under a temporary name and linked into place: two first starts keep one key
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        log.info("created the relay ticket key %s", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return _read_key(path)


def _read_key(path: Path) -> Ed25519PrivateKey:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o077:
            raise TicketKeyError(
                f"the relay ticket key {path} must be a regular file of mode 0600; refusing it"
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise TicketKeyError(f"the relay ticket key {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TicketKeyError(f"the relay ticket key {path} is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PrivateKey) -> str:
    """The public half, as the relay's ``--ticket-key-file`` takes it."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def key_id(key: Ed25519PublicKey) -> str:
    """The ``kid`` of a public key: 16 hex digits of the SHA-256 of its raw bytes (the
    front-end computes the same to pick the key a ticket names)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RelayTicket:
    """A ticket as handed to the viewer, with where to present it."""

    token: str
    jti: str
    camera_id: str
    expires_at: int
    whep_url: str

    def to_json(self) -> dict[str, object]:
        return {
            "ticket": self.token,
            "camera_id": self.camera_id,
            "expires_at": self.expires_at,
            "whep_url": self.whep_url,
        }


@dataclass
class _Issued:
    jti: str
    camera_id: str
    principal: Principal
    issued_at: float
    expires_at: int
    revoked: bool = False

    @property
    def holder(self) -> str:
        """One viewer on one camera through the relay (their renewed tickets share it): the id
        the owner's "who is watching now" shows and ends."""
        key = f"{self.principal.session_id}\0{self.camera_id}".encode()
        return "relay-" + hashlib.sha256(key).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class RelayHolder:
    """A viewer holding a live ticket for a camera: may be watching on the relay now."""

    id: str
    camera_id: str
    principal: Principal
    since: float  # their first live ticket's issue time
    expires_at: int  # their latest ticket's expiry


class TicketRefused(Exception):
    """No ticket: ``code`` says why (``not_on_relay``, ``watch_on_device``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RelayTickets:
    """Issues this device's relay tickets, remembers them, and revokes them; on the API's loop."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        config: RelayConfig,
        clock: Clock,
        audit: AuditLog,
        *,
        issuer: str,
    ) -> None:
        self._key = key
        self._kid = key_id(key.public_key())
        self._config = config
        self._clock = clock
        self._audit = audit
        self.issuer = issuer
        self._issued: dict[str, _Issued] = {}
        self._not_before = math.floor(clock.wall())  # tickets of an earlier run are refused
        self._next_push = 0.0  # monotonic; 0: due now (the relay learns not_before at once)
        self._dirty = False
        self._pushing: asyncio.Future[None] | None = None

    @property
    def key_id(self) -> str:
        return self._kid

    def issue(
        self, principal: Principal, camera: CameraInfo, access: Access, *, mark: str | None
    ) -> RelayTicket:
        """A ticket for a caller whose ``access`` to ``camera`` was just allowed; audited.

        ``mark`` is the caller's watermark label when their frames must carry one (the ticket's
        ``mark`` claim, for the relay host); the caller decides whether the relay may serve a
        viewer who needs a mark (:meth:`LiveSubsystem.relay_ticket`)."""
        assert access.allowed and principal.session_id is not None
        now = self._clock.wall()
        ends = [now + self._config.ticket_max_ttl_s, principal.expires_at]
        if access.seconds_left is not None:
            ends.append(now + access.seconds_left)
        expires = math.floor(min(ends))  # never later than the window's end
        jti = secrets.token_urlsafe(16)
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self._config.audience,
            "cam": camera.id,
            "sub": principal.session_id,
            "role": str(principal.role),
            "iat": math.floor(now),
            "exp": expires,
            "jti": jti,
            "use": "ticket",
        }
        if mark is not None:
            claims["mark"] = mark
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        self._forget_expired(now)
        self._issued[jti] = _Issued(jti, camera.id, principal, now, expires)
        self._audit.append(
            AuditEvent.RELAY_TICKET_ISSUED,
            actor=principal.username,
            camera_id=camera.id,
            details={
                "ticket": jti[:8],
                "role": principal.role,
                "expires_at": expires,
                "mark": mark is not None,
            },
        )
        return RelayTicket(token, jti, camera.id, expires, self._config.viewer_endpoint(camera.id))

    def holders(self) -> list[RelayHolder]:
        """The viewers holding a live ticket (neither expired nor revoked), one per viewer and
        camera, oldest first. The relay does not tell the device who is connected: a holder may
        have fetched a ticket and not be watching."""
        now = self._clock.wall()
        held: dict[str, RelayHolder] = {}
        for t in sorted(self._issued.values(), key=lambda t: t.issued_at):
            if t.revoked or t.expires_at <= now:
                continue
            first = held.get(t.holder)
            since = first.since if first is not None else t.issued_at
            held[t.holder] = RelayHolder(t.holder, t.camera_id, t.principal, since, t.expires_at)
        return list(held.values())

    def revoke_holder(self, holder_id: str, *, actor: str) -> RelayHolder | None:
        """End a holder's viewing at once (e.g. the owner ends it): their tickets are revoked and
        the relay told; None when no such holder has a live ticket."""
        holder = next((h for h in self.holders() if h.id == holder_id), None)
        if holder is not None:
            self.revoke_matching(lambda t: t.holder == holder_id, f"ended by {actor}", actor)
        return holder

    # --- revocation ---------------------------------------------------------------------------

    def revoke_matching(self, match: Callable[[_Issued], bool], reason: str, actor: str) -> int:
        """Revoke every live ticket ``match`` picks (audited) and push the list at once."""
        now = self._clock.wall()
        live = [t for t in self._issued.values() if not t.revoked and t.expires_at > now]
        return self._revoke([t for t in live if match(t)], reason, actor)

    def _revoke(self, tickets: list[_Issued], reason: str, actor: str) -> int:
        for ticket in tickets:
            ticket.revoked = True
            self._audit.append(
                AuditEvent.RELAY_TICKET_REVOKED,
                actor=actor,
                camera_id=ticket.camera_id,
                details={
                    "ticket": ticket.jti[:8],
                    "viewer": ticket.principal.username,
                    "reason": reason,
                },
            )
        if tickets:
            log.info("revoked %d relay ticket(s): %s", len(tickets), reason)
            self.push_soon()
        return len(tickets)

    def revoke_for_logins(self, login_ids: Collection[str], reason: str) -> int:
        ended = set(login_ids)
        return self.revoke_matching(lambda t: t.principal.session_id in ended, reason, ACTOR)

    def revoke_not_allowed(self, rules: ViewingRules, cameras: dict[str, CameraInfo]) -> int:
        """The supervision's check: revoke the tickets of callers who may no longer watch
        (revoked, expired, outside their hours, the camera no longer theirs). A stream that
        stopped revokes nothing: its relay publication ends, and the ticket serves again if the
        stream restarts within its life."""
        now = self._clock.wall()
        revoked = 0
        for ticket in list(self._issued.values()):
            if ticket.revoked or ticket.expires_at <= now:
                continue
            camera = cameras.get(ticket.camera_id)
            access = rules.access(ticket.principal, camera) if camera is not None else None
            if access is None or (not access.allowed and access.reason != "not_live"):
                reason = access.reason if access is not None and access.reason else "not allowed"
                revoked += self._revoke([ticket], reason, ACTOR)
        return revoked

    def revocations_token(self) -> str:
        """The signed list the relay takes: this run's start and the revoked, unexpired tickets."""
        now = self._clock.wall()
        self._forget_expired(now)
        claims = {
            "iss": self.issuer,
            "aud": self._config.audience,
            "iat": math.floor(now),
            "exp": math.floor(now) + 300,
            "use": "revocations",
            "not_before": self._not_before,
            "revoked": [[t.jti, t.expires_at] for t in self._issued.values() if t.revoked],
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})

    def push_due(self) -> bool:
        """Whether the supervision should push the list again (every RESEND_S, RETRY_S after a
        failure)."""
        return self._clock.monotonic() >= self._next_push

    def push_soon(self) -> None:
        """Push the revocation list now, beside the caller (on the loop); a change made while a
        push is under way is pushed right after it."""
        self._dirty = True
        if self._pushing is None or self._pushing.done():
            self._pushing = asyncio.ensure_future(self._push_while_dirty())

    async def _push_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            if not await self.push():
                return  # the supervision tries again after RETRY_S

    async def push(self) -> bool:
        """Send the revocation list to the relay; True when it took it."""
        self._next_push = self._clock.monotonic() + RESEND_S
        url = self._config.revocations_url
        headers = {"Authorization": f"Bearer {self.revocations_token()}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT_S)) as http,
                http.post(url, headers=headers, ssl=self._ssl()) as reply,
            ):
                if reply.status == 200:
                    return True
                log.warning("the relay refused the revocation list: %d", reply.status)
        except (aiohttp.ClientError, OSError, TimeoutError, ssl.SSLError) as err:
            log.warning("cannot push revocations to the relay: %s", err)
        self._next_push = self._clock.monotonic() + RETRY_S
        return False

    async def close(self) -> None:
        if self._pushing is not None:
            self._pushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pushing

    def _forget_expired(self, now: float) -> None:
        for jti in [j for j, t in self._issued.items() if t.expires_at <= now]:
            del self._issued[jti]

    def _ssl(self) -> ssl.SSLContext | bool:
        if self._config.ca_file is None:
            return True
        return ssl.create_default_context(cafile=str(self._config.ca_file))
