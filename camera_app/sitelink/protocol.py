"""What a device and its site say to each other over MQTT: the topics and the messages.

Both sides import this module (the site is ``site_app``), so the two cannot drift apart. The
device writes only under ``<prefix>/<device>/up/`` and reads only ``<prefix>/<device>/down/``
(the broker's ACL, ``deploy/mosquitto/acl``); the site reads every device's ``up`` and writes
every device's ``down``.

| topic | from | retained | payload |
|---|---|---|---|
| ``up/availability`` | device | yes | ``online``, or ``offline`` (also its last will) |
| ``up/cameras`` | device | yes | :class:`DeviceCameras`: id, name, room, profile of each camera |
| ``up/grants`` | device | yes | :class:`GrantsAck`: the grants it took (digests) and refused |
| ``up/ticket`` | device | no | :class:`TicketReply` to a request, by ``request_id`` |
| ``up/audit/head`` | device | yes | :class:`AuditHead`: the seq and hash of its audit log's head |
| ``up/audit`` | device | no | :class:`AuditRecords`: records after a seq, answering a request |
| ``down/grants`` | site | yes | :class:`GrantSet`: every grant of the site for this device |
| ``down/ticket`` | site | no | :class:`TicketRequest`: a ticket for a site account |
| ``down/audit`` | site | no | :class:`AuditRequest`: the audit records after a seq |
| ``down/logins-ended`` | site | yes | :class:`EndedLogins`: site logins ended lately |

No message carries a frame or a recording, and none an ID number (the audit log refuses secrets
and holds registrations masked); accounts are the site's opaque ids. The audit records are the
device's own, as its owner sees them (actors are its own user names).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from privacy.gates.schedule import Schedule

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
RequestId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Room = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
MAX_PAYLOAD = 1 << 20  # a grant set of a large school stays far below 1 MiB
MAX_GRANTS = 5000


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class SiteGrant(_Message):
    """What the site grants one of its accounts on this device: rooms (or cameras), a weekly
    schedule and an end date. The device stores it as a viewer of origin ``site``."""

    account: Ident = Field(description="The site's id of the account (opaque, no name).")
    role: Literal["parent", "family"] = "parent"
    rooms: tuple[Room, ...] = Field(default=(), max_length=32)
    cameras: tuple[Ident, ...] = Field(default=(), max_length=32)
    schedule: Schedule | None = None
    expires_at: float | None = None
    terms: str | None = Field(
        default=None,
        max_length=32,
        description="The version of the viewing terms (privacy.gates.viewers.TERMS_VERSION) the "
        "account accepted at the site; the device records consent only for its own version.",
    )

    @model_validator(mode="after")
    def _complete(self) -> SiteGrant:
        if not self.rooms and not self.cameras:
            raise ValueError("a grant names at least one room or camera")
        if self.role == "parent" and (self.schedule is None or self.expires_at is None):
            raise ValueError("a parent's grant needs a schedule and an end date")
        return self

    def digest(self) -> str:
        """The grant's identity: a ticket request must name the grant the device accepted."""
        data = self.model_dump(mode="json")
        data["rooms"], data["cameras"] = sorted(set(self.rooms)), sorted(set(self.cameras))
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class GrantSet(_Message):
    """Every grant the site holds on one device (retained): the device adds, changes and
    revokes its site viewers to match."""

    grants: tuple[SiteGrant, ...] = Field(default=(), max_length=MAX_GRANTS)

    @model_validator(mode="after")
    def _one_per_account(self) -> GrantSet:
        accounts = [g.account for g in self.grants]
        if len(set(accounts)) != len(accounts):
            raise ValueError("an account is granted twice")
        return self


class GrantsAck(_Message):
    """What the device made of the site's grant set: the digest of each grant it holds, and why
    it refused the others."""

    accepted: dict[str, str] = Field(default_factory=dict)  # account -> grant digest
    refused: dict[str, str] = Field(default_factory=dict)  # account -> reason


class CameraAnnouncement(_Message):
    id: Ident
    name: str = Field(max_length=128)
    room: str | None = Field(default=None, max_length=64)
    profile: str = Field(max_length=32)


class DeviceCameras(_Message):
    """The device's cameras (retained; empty payload once the device leaves the site)."""

    device: Ident
    cameras: tuple[CameraAnnouncement, ...] = Field(max_length=64)


class TicketRequest(_Message):
    """The site asks for a relay ticket on behalf of one of its accounts for one camera, naming
    the grant it holds for that account; ``login_expires_at``: when that account's site login
    ends (the ticket ends no later); ``login``: the site's reference of that login (opaque), so
    that the ticket can be revoked when the login ends early (:class:`EndedLogins`)."""

    request_id: RequestId
    account: Ident
    camera: Ident
    grant: SiteGrant
    login_expires_at: float
    login: Ident | None = None


#: How long the site names an ended login: the longest a relay ticket can live
#: (``relay.ticket_max_ttl_s`` at most); after that, every ticket of the login has expired.
ENDED_LOGIN_KEEP_S = 3600
MAX_ENDED_LOGINS = 5000


class EndedLogin(_Message):
    account: Ident
    login: Ident
    ended_at: float


class EndedLogins(_Message):
    """Site logins that ended before their time (logged out, password changed or reset, account
    disabled) within :data:`ENDED_LOGIN_KEEP_S` (retained, so a device that was away takes it
    when it is back): the device revokes the relay tickets it gave for them."""

    logins: tuple[EndedLogin, ...] = Field(default=(), max_length=MAX_ENDED_LOGINS)


class TicketReply(_Message):
    """The device's answer: a ticket (as the owner API gives one: ``ticket``, ``camera_id``,
    ``expires_at``, ``whep_url``) or a refusal (``error`` a stable code, ``reason`` words)."""

    request_id: RequestId
    ok: bool
    ticket: dict[str, str | int] | None = None
    error: str | None = None
    reason: str | None = None


class AuditHead(_Message):
    """The head of the device's audit log (retained; re-sent when it moves)."""

    seq: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")


AUDIT_PAGE = 200


class AuditRequest(_Message):
    """The site asks for the device's audit records after ``after``, oldest first."""

    request_id: RequestId
    after: int = Field(ge=0)
    limit: int = Field(default=AUDIT_PAGE, ge=1, le=AUDIT_PAGE)


class AuditRecordMessage(_Message):
    """One record as the device stores it (``privacy.audit.AuditRecord``)."""

    seq: int = Field(ge=1)
    at: float
    actor: str
    event: str
    camera_id: str | None
    details: dict[str, object] | str
    prev_hash: str
    hash: str


class AuditRecords(_Message):
    request_id: RequestId
    records: tuple[AuditRecordMessage, ...] = Field(max_length=AUDIT_PAGE)


@dataclass(frozen=True, slots=True)
class SiteTopics:
    """The topics of one device at a site."""

    prefix: str
    device_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def availability(self) -> str:
        """Retained ``online``/``offline`` (also the device's last will)."""
        return f"{self.base}/up/availability"

    @property
    def cameras(self) -> str:
        return f"{self.base}/up/cameras"

    @property
    def grants_ack(self) -> str:
        return f"{self.base}/up/grants"

    @property
    def ticket_reply(self) -> str:
        return f"{self.base}/up/ticket"

    @property
    def audit_head(self) -> str:
        return f"{self.base}/up/audit/head"

    @property
    def audit_records(self) -> str:
        return f"{self.base}/up/audit"

    @property
    def audit_request(self) -> str:
        return f"{self.base}/down/audit"

    @property
    def grants(self) -> str:
        return f"{self.base}/down/grants"

    @property
    def ticket_request(self) -> str:
        return f"{self.base}/down/ticket"

    @property
    def logins_ended(self) -> str:
        return f"{self.base}/down/logins-ended"


def device_of(topic: str, prefix: str) -> tuple[str, str] | None:
    """``(device, rest)`` of a topic under ``<prefix>/<device>/``; None for any other topic."""
    parts = topic.split("/", 2)
    if len(parts) != 3 or parts[0] != prefix or not parts[1]:
        return None
    return parts[1], parts[2]
