"""Who may watch which camera, and when: invited viewers, public links, and the access decision.

Three kinds of audience besides the owner:

- ``family`` accounts (home profile), invited by the owner for some cameras;
- ``parent`` accounts (kindergarten profile), invited by the institution with the cameras or
  rooms of their child, a weekly schedule, an end date (end of term) and a watermark flag; they
  must accept the viewing terms (consent) before they can watch;
- ``public`` links (merchant profile): an unguessable token per camera that the merchant shares.

An invitation is a one-time code (only its argon2 hash is stored) that the viewer exchanges for a
password. Access is decided by :func:`decide_access`, a pure function, on every request and
(issue 5) continuously during a session.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import PROFILE_OF_ROLE, Profile, Role
from privacy.gates.schedule import Schedule

TERMS_VERSION = "2026-11"

# What an invited viewer consents to (version TERMS_VERSION), per role: (English, Chinese). The
# invite preview shows it before the viewer sets a password; accepting records the version.
VIEWING_TERMS: dict[Role, tuple[str, str]] = {
    Role.FAMILY: (
        "You may watch the live view of the cameras listed here for as long as the owner allows. "
        "Watch only: do not record, screenshot or share what you see. The owner can see when "
        "you watch (it is written to the device's audit log) and can end your access at any "
        "time. Recordings stay private to the owner.",
        "您可以在机主允许的期间观看此处所列摄像头的实时画面。仅限观看：请勿录制、截图或分享所见内容。"
        "机主可以看到您何时观看（记录在设备的审计日志中），并可随时终止您的观看权限。录像仅归机主所有。",
    ),
    Role.PARENT: (
        "You may watch the live view of the rooms listed here only inside your viewing hours "
        "and until your end date. Faces are hidden and every picture carries your account id "
        "and the time. Watch only: do not record, screenshot or share images of any child or "
        "staff member. The kindergarten can see when you watch (it is written to the device's "
        "audit log) and can end your access at any time; ask it to revoke your account to "
        "withdraw. You never get access to recordings.",
        "您只能在您的观看时段内、截止日期之前观看此处所列教室的实时画面。人脸已被遮挡，"
        "每一帧画面都带有您的账户编号和时间。仅限观看：请勿录制、截图或分享任何儿童或教职工的影像。"
        "幼儿园可以看到您何时观看（记录在设备的审计日志中），并可随时终止您的观看权限；"
        "如需退出，请联系幼儿园撤销您的账户。您无法访问任何录像。",
    ),
}

INVITE_TTL_S = 7 * 86400


def _digest(secret: str) -> str:
    # The codes are 128-bit random, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Invitation:
    """What an invitation grants (who, which cameras or rooms, when, marked or not, until when),
    before it is made (see :meth:`ViewerStore.invite`); a :class:`Viewer` carries it as made."""

    username: str
    role: Role
    cameras: tuple[str, ...]
    rooms: tuple[str, ...]
    schedule: Schedule | None
    watermark: bool
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class Viewer(Invitation):
    """An invited viewer account: its grant (the :class:`Invitation` as made) and its state."""

    id: str
    invited_by: str
    invited_at: float
    accepted_at: float | None
    consent_at: float | None
    revoked_at: float | None
    revoke_reason: str | None

    @property
    def watermarked(self) -> bool:
        """Whether their stream carries the watermark: as invited, and always for a parent (a
        parent's recording of other children must stay traceable), whatever was stored for
        invitations made before the API refused ``watermark: false`` for parents."""
        return self.watermark or self.role == Role.PARENT

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "cameras": list(self.cameras),
            "rooms": list(self.rooms),
            "schedule": self.schedule.model_dump() if self.schedule else None,
            "watermark": self.watermarked,
            "expires_at": self.expires_at,
            "invited_at": self.invited_at,
            "accepted_at": self.accepted_at,
            "consent_at": self.consent_at,
            "revoked_at": self.revoked_at,
            "revoke_reason": self.revoke_reason,
        }


@dataclass(frozen=True, slots=True)
class PublicLink:
    id: str
    camera_id: str
    label: str
    created_at: float
    revoked_at: float | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "camera_id": self.camera_id,
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


_VIEWER_COLUMNS = (
    "id, username, role, cameras, rooms, schedule, watermark, expires_at, invited_by, invited_at,"
    " accepted_at, consent_at, revoked_at, revoke_reason"
)


def _viewer(row: sqlite3.Row) -> Viewer:
    return Viewer(
        id=row["id"],
        username=row["username"],
        role=Role(row["role"]),
        cameras=tuple(json.loads(row["cameras"])),
        rooms=tuple(json.loads(row["rooms"])),
        schedule=Schedule.model_validate_json(row["schedule"]) if row["schedule"] else None,
        watermark=bool(row["watermark"]),
        expires_at=row["expires_at"],
        invited_by=row["invited_by"],
        invited_at=row["invited_at"],
        accepted_at=row["accepted_at"],
        consent_at=row["consent_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )


class ViewerStore:
    """Viewer invitations, grants and public links in the device database."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def invite(
        self,
        username: str,
        role: Role,
        *,
        cameras: list[str],
        rooms: list[str],
        schedule: Schedule | None,
        watermark: bool,
        expires_at: float | None,
        actor: str,
    ) -> tuple[Viewer, str]:
        """Create an invitation (audited); returns the viewer and the one-time code to hand
        over."""
        invitation = Invitation(
            username, role, tuple(cameras), tuple(rooms), schedule, watermark, expires_at
        )
        return self._insert(invitation, actor)

    def invite_many(
        self, invitations: Sequence[Invitation], *, actor: str, details: Mapping[str, object]
    ) -> list[tuple[Viewer, str]]:
        """Create every invitation, each audited as :meth:`invite` does, plus one
        ``viewers_imported`` record (``details`` and the count), in one transaction: all of them
        or, when any fails (``sqlite3.IntegrityError`` for a username taken meanwhile), none.
        Returns each viewer with its one-time code, in order."""
        with self._audit.transaction():
            made = [self._insert(invitation, actor) for invitation in invitations]
            self._audit.append(
                AuditEvent.VIEWERS_IMPORTED,
                actor=actor,
                details={**details, "count": len(made)},
            )
        return made

    def _insert(self, invitation: Invitation, actor: str) -> tuple[Viewer, str]:
        code = secrets.token_urlsafe(16)
        now = self._clock.wall()
        viewer_id = uuid.uuid4().hex
        schedule = invitation.schedule
        self._conn.execute(
            "INSERT INTO viewers (id, username, role, cameras, rooms, schedule, watermark,"
            " expires_at, invited_by, invited_at, invite_hash, invite_expires)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                viewer_id,
                invitation.username,
                invitation.role,
                json.dumps(sorted(set(invitation.cameras))),
                json.dumps(sorted(set(invitation.rooms))),
                schedule.model_dump_json() if schedule else None,
                int(invitation.watermark),
                invitation.expires_at,
                actor,
                now,
                _digest(code),
                now + INVITE_TTL_S,
            ),
        )
        viewer = self.get(viewer_id)
        assert viewer is not None
        self._audit.append(
            AuditEvent.VIEWER_INVITED,
            actor=actor,
            details={
                "viewer": viewer.username,
                "role": viewer.role,
                "cameras": list(viewer.cameras),
                "rooms": list(viewer.rooms),
                "watermark": viewer.watermarked,
                "expires_at": invitation.expires_at,
            },
        )
        return viewer, code

    def redeem_invite(self, code: str, *, consent: bool) -> Viewer | None:
        """Burn a pending invite code (audited, with the viewer as the actor); returns the viewer,
        or None when the code is not valid.

        ``consent`` records that the viewer accepted the viewing terms (required for parents;
        the caller refuses a parent without it before calling).
        """
        viewer = self.pending_invite(code)
        if viewer is None:
            return None
        now = self._clock.wall()
        # the hash in the WHERE clause keeps a code from being redeemed twice
        cur = self._conn.execute(
            "UPDATE viewers SET invite_hash = NULL, accepted_at = ?, consent_at = ?,"
            " consent_terms = ? WHERE id = ? AND invite_hash = ?",
            (
                now,
                now if consent else None,
                TERMS_VERSION if consent else None,
                viewer.id,
                _digest(code),
            ),
        )
        accepted = self.get(viewer.id) if cur.rowcount else None
        if accepted is not None:
            self._audit.append(
                AuditEvent.VIEWER_ACCEPTED,
                actor=accepted.username,
                details={"role": accepted.role, "consent": consent},
            )
        return accepted

    def pending_invite(self, code: str) -> Viewer | None:
        row = self._conn.execute(
            f"SELECT {_VIEWER_COLUMNS} FROM viewers WHERE invite_hash = ? AND invite_expires > ?"  # noqa: S608
            " AND revoked_at IS NULL",
            (_digest(code), self._clock.wall()),
        ).fetchone()
        return _viewer(row) if row else None

    def get(self, viewer_id: str) -> Viewer | None:
        row = self._conn.execute(
            f"SELECT {_VIEWER_COLUMNS} FROM viewers WHERE id = ?",  # noqa: S608
            (viewer_id,),
        ).fetchone()
        return _viewer(row) if row else None

    def by_username(self, username: str) -> Viewer | None:
        row = self._conn.execute(
            f"SELECT {_VIEWER_COLUMNS} FROM viewers WHERE username = ?",  # noqa: S608
            (username,),
        ).fetchone()
        return _viewer(row) if row else None

    def all(self) -> list[Viewer]:
        rows = self._conn.execute(
            f"SELECT {_VIEWER_COLUMNS} FROM viewers ORDER BY invited_at"  # noqa: S608
        ).fetchall()
        return [_viewer(r) for r in rows]

    def revoke(self, viewer_id: str, reason: str, *, actor: str) -> Viewer | None:
        """Revoke a viewer (audited); returns it, or None when it did not exist or was already
        revoked."""
        cur = self._conn.execute(
            "UPDATE viewers SET revoked_at = ?, revoke_reason = ?, invite_hash = NULL"
            " WHERE id = ? AND revoked_at IS NULL",
            (self._clock.wall(), reason, viewer_id),
        )
        viewer = self.get(viewer_id) if cur.rowcount else None
        if viewer is not None:
            self._audit.append(
                AuditEvent.VIEWER_REVOKED,
                actor=actor,
                details={"viewer": viewer.username, "role": viewer.role, "reason": reason},
            )
        return viewer

    def expired(self) -> list[Viewer]:
        """Viewers whose end date has passed but who are not revoked yet."""
        rows = self._conn.execute(
            f"SELECT {_VIEWER_COLUMNS} FROM viewers WHERE revoked_at IS NULL"  # noqa: S608
            " AND expires_at IS NOT NULL AND expires_at <= ?",
            (self._clock.wall(),),
        ).fetchall()
        return [_viewer(r) for r in rows]

    # --- public links (merchant audience) -----------------------------------------------------

    def add_public_link(self, camera_id: str, label: str, actor: str) -> tuple[PublicLink, str]:
        token = secrets.token_urlsafe(24)
        link = PublicLink(uuid.uuid4().hex, camera_id, label, self._clock.wall(), None)
        self._conn.execute(
            "INSERT INTO public_links (id, camera_id, token_hash, label, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (link.id, camera_id, _digest(token), label, actor, link.created_at),
        )
        self._audit.append(
            AuditEvent.PUBLIC_LINK_CREATED,
            actor=actor,
            camera_id=camera_id,
            details={"link": link.id, "label": link.label},
        )
        return link, token

    def public_link_for_token(self, token: str) -> PublicLink | None:
        row = self._conn.execute(
            "SELECT id, camera_id, label, created_at, revoked_at FROM public_links"
            " WHERE token_hash = ? AND revoked_at IS NULL",
            (_digest(token),),
        ).fetchone()
        return PublicLink(*tuple(row)) if row else None

    def public_link(self, link_id: str) -> PublicLink | None:
        row = self._conn.execute(
            "SELECT id, camera_id, label, created_at, revoked_at FROM public_links WHERE id = ?",
            (link_id,),
        ).fetchone()
        return PublicLink(*tuple(row)) if row else None

    def public_links(self, camera_id: str | None = None) -> list[PublicLink]:
        """The public links of ``camera_id`` (None: of every camera), revoked ones too, oldest
        first."""
        rows = self._conn.execute(
            "SELECT id, camera_id, label, created_at, revoked_at FROM public_links"
            " WHERE ? IS NULL OR camera_id = ? ORDER BY created_at",
            (camera_id, camera_id),
        ).fetchall()
        return [PublicLink(*tuple(r)) for r in rows]

    def revoke_public_link(self, link_id: str, *, actor: str) -> PublicLink | None:
        """Revoke a public link (audited); None when it did not exist or was already revoked."""
        cur = self._conn.execute(
            "UPDATE public_links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self._clock.wall(), link_id),
        )
        link = self.public_link(link_id) if cur.rowcount else None
        if link is not None:
            self._audit.append(
                AuditEvent.PUBLIC_LINK_REVOKED,
                actor=actor,
                camera_id=link.camera_id,
                details={"link": link.id},
            )
        return link


@dataclass(frozen=True, slots=True)
class Access:
    """The answer to "may this viewer watch this camera now?", with what the stream must obey."""

    allowed: bool
    reason: str | None = None  # a stable code when refused (see REFUSALS)
    watermark: bool = False
    audio: bool = False
    seconds_left: float | None = None  # until the viewer's window closes (None: no limit)


REFUSALS: dict[str, tuple[str, str]] = {
    "wrong_camera": ("you are not invited to this camera", "您未获邀观看此摄像头"),
    "wrong_profile": (
        "this kind of account cannot watch this camera's streaming profile",
        "此类账户不能观看该摄像头的直播类型",
    ),
    "revoked": ("your access was revoked", "您的观看权限已被撤销"),
    "expired": ("your access has expired", "您的观看权限已过期"),
    "no_consent": ("accept the viewing terms first", "请先同意观看条款"),
    "outside_viewing_hours": ("your viewing hours are over for now", "您当前的观看时段已结束"),
    "live_viewing_forbidden": (
        "live viewing of childcare is disabled in this jurisdiction",
        "本地区禁止托育机构实时在线观看",
    ),
    "not_live": ("the camera is not streaming", "该摄像头当前未在直播"),
}


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What access decisions need to know about a camera."""

    id: str
    name: str
    room: str | None
    profile: Profile


def viewer_covers(viewer: Viewer, camera: CameraInfo) -> bool:
    return camera.id in viewer.cameras or (camera.room is not None and camera.room in viewer.rooms)


def decide_access(
    *,
    role: Role,
    camera: CameraInfo,
    live: bool,
    now: float,
    local_now: datetime,
    viewer: Viewer | None = None,
    link: PublicLink | None = None,
    live_childcare_permitted: bool = False,
) -> Access:
    """Decide whether a caller of ``role`` may watch ``camera`` now.

    The owner may always watch a live stream of their own cameras (never with audio on a
    kindergarten camera). Every other role must hold a grant that covers the camera, match the
    camera's profile and, for parents, be inside their schedule with consent given.
    """
    kindergarten = camera.profile == Profile.KINDERGARTEN
    forbidden = kindergarten and not live_childcare_permitted
    if role == Role.OWNER:
        if forbidden:
            return Access(False, "live_viewing_forbidden")
        return Access(live, None if live else "not_live", audio=not kindergarten)
    if role == Role.PUBLIC:
        if link is None or link.revoked_at is not None:
            return Access(False, "revoked")
        if link.camera_id != camera.id:
            return Access(False, "wrong_camera")
        if camera.profile != Profile.MERCHANT:
            return Access(False, "wrong_profile")
        return Access(live, None if live else "not_live", watermark=False, audio=False)
    # The grant is checked first, so a viewer learns nothing about cameras outside it.
    if viewer is None or viewer.role != role or not viewer_covers(viewer, camera):
        return Access(False, "wrong_camera")
    if viewer.revoked_at is not None:
        return Access(False, "revoked")
    if viewer.expires_at is not None and now >= viewer.expires_at:
        return Access(False, "expired")
    if camera.profile != PROFILE_OF_ROLE[viewer.role]:
        return Access(False, "wrong_profile")
    if forbidden:
        return Access(False, "live_viewing_forbidden")
    seconds_left: float | None = None
    if viewer.role == Role.PARENT:
        if viewer.consent_at is None:
            return Access(False, "no_consent")
        assert viewer.schedule is not None  # enforced by the table's CHECK
        seconds_left = viewer.schedule.seconds_left(local_now)
        if seconds_left is None:
            return Access(False, "outside_viewing_hours")
    if viewer.expires_at is not None:
        until_expiry = viewer.expires_at - now
        seconds_left = until_expiry if seconds_left is None else min(seconds_left, until_expiry)
    if not live:
        return Access(False, "not_live")
    return Access(
        True,
        # always on kindergarten streams: a parent's recording of other children is traceable
        watermark=viewer.watermarked or kindergarten,
        audio=not kindergarten,
        seconds_left=seconds_left,
    )


@dataclass(frozen=True, slots=True)
class ViewingHours:
    """When an invited viewer may watch, seen from now: inside their hours or not, when they end
    (the schedule's current window or the end date, whichever is first) or when they next open.
    Unix seconds; the schedule's windows are in the camera's local time zone."""

    within_hours: bool
    ends_at: float | None  # within hours: when they end (None: no limit)
    next_at: float | None  # outside hours: when they open next (None: never again)

    def to_json(self) -> dict[str, object]:
        return {
            "within_hours": self.within_hours,
            "window_ends_at": self.ends_at,
            "next_window_at": self.next_at,
        }


def viewing_hours(viewer: Viewer, now: float, local_now: datetime) -> ViewingHours:
    """The hours of ``viewer`` at ``now`` (``local_now``: the same moment in the camera's zone).

    Only time counts here (schedule and end date); whether the stream is live, the grant and the
    consent are :func:`decide_access`'s business.
    """
    expires = viewer.expires_at
    if viewer.revoked_at is not None or (expires is not None and now >= expires):
        return ViewingHours(False, None, None)
    if viewer.schedule is None:
        return ViewingHours(True, expires, None)
    left = viewer.schedule.seconds_left(local_now)
    if left is not None:
        ends = now + left
        return ViewingHours(True, ends if expires is None else min(ends, expires), None)
    opens = now + viewer.schedule.seconds_until_open(local_now)
    return ViewingHours(False, None, opens if expires is None or opens < expires else None)
