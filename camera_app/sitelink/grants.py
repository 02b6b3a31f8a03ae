"""The site's grants on this device: viewers of origin ``site``, kept in step with the grant set
the site publishes (retained) for this device.

The device takes a grant as a viewer (``site:<account>``) with the rooms or cameras, schedule and
end date the site set, so every decision about it is the device's own (``decide_access``: grant,
room, schedule, end date, consent, revocation). Each change is audited in the device's log:
``viewer_invited`` (origin ``site``) for a new grant, ``site_grant_changed`` for a changed one,
``viewer_revoked`` for one the site withdrew, ``viewer_reinstated`` for one the site withdrew
and then granted again (a parent given a room again, an account enabled again). Table
``site_viewers`` (migration 0008) says which viewers came from the site, for which account and
grant. The device's owner may revoke a site viewer like any other; the site cannot undo that by
pushing the grant again (it is refused, ``revoked_on_device``): only the site's own withdrawal
can be undone by the site.

A site viewer has no password and no invite code on the device: it cannot log in here, and it
reaches the device only through ticket requests that name the grant the device accepted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Mapping

from camera_app.sitelink.protocol import GrantsAck, GrantSet, SiteGrant
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.viewers import TERMS_VERSION, CameraInfo, Viewer, ViewerStore

log = logging.getLogger(__name__)

ACTOR = "site"
WITHDRAWN = "withdrawn by the site"  # the revocation reason the site may undo


def site_username(account: str) -> str:
    """The device's user name of a site account (``:`` keeps it apart from the site's ids)."""
    return f"site:{account}"


class SiteGrants:
    """Applies the site's grant sets to the device's viewers, and finds the grant behind a
    ticket request. On the owner API's loop (it shares its database connection)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        viewers: ViewerStore,
        audit: AuditLog,
        clock: Clock,
        cameras: Mapping[str, CameraInfo],
    ) -> None:
        self._conn = conn
        self._viewers = viewers
        self._audit = audit
        self._clock = clock
        self._cameras = cameras

    def apply(self, grants: GrantSet) -> GrantsAck:
        """Add, change and withdraw site viewers to match ``grants``, in one transaction with
        their audit records; returns what was accepted (digests) and refused (reasons)."""
        accepted: dict[str, str] = {}
        refused: dict[str, str] = {}
        with self._audit.transaction():
            held = self._held()
            for grant in grants.grants:
                reason = self._put(grant, held.get(grant.account))
                if reason is None:
                    accepted[grant.account] = grant.digest()
                else:
                    refused[grant.account] = reason
            wanted = {g.account for g in grants.grants}
            for account, (viewer_id, _digest, revoked) in held.items():
                if account not in wanted and revoked is None:
                    self._viewers.revoke(viewer_id, WITHDRAWN, actor=ACTOR)
        if refused:
            reasons = sorted(set(refused.values()))
            log.warning("site: refused %d grant(s): %s", len(refused), reasons)
        return GrantsAck(accepted=accepted, refused=refused)

    def viewer_for(self, account: str, grant: SiteGrant) -> Viewer | None:
        """The site viewer of ``account`` if the device holds exactly ``grant`` for it."""
        row = self._conn.execute(
            "SELECT viewer_id, grant_digest FROM site_viewers WHERE account = ?", (account,)
        ).fetchone()
        if row is None or row["grant_digest"] != grant.digest():
            return None
        return self._viewers.get(row["viewer_id"])

    def _held(self) -> dict[str, tuple[str, str | None, str | None]]:
        """account -> (viewer id, accepted grant digest, why it was revoked or None) of every
        site viewer."""
        rows = self._conn.execute(
            "SELECT s.account, s.viewer_id, s.grant_digest, v.revoked_at, v.revoke_reason"
            " FROM site_viewers s JOIN viewers v ON v.id = s.viewer_id"
        ).fetchall()
        return {
            r["account"]: (
                r["viewer_id"],
                r["grant_digest"],
                (r["revoke_reason"] or "revoked") if r["revoked_at"] is not None else None,
            )
            for r in rows
        }

    def _covers_a_camera(self, grant: SiteGrant) -> bool:
        return any(
            c.id in grant.cameras or (c.room is not None and c.room in grant.rooms)
            for c in self._cameras.values()
        )

    def _put(self, grant: SiteGrant, held: tuple[str, str | None, str | None] | None) -> str | None:
        """Store one grant; the refusal reason, or None when the device holds it now."""
        if not self._covers_a_camera(grant):
            return "no_such_room"
        digest = grant.digest()
        if held is not None:
            viewer_id, current, revoked = held
            if revoked is not None and revoked != WITHDRAWN:
                return "revoked_on_device"  # the owner's revocation sticks
            if revoked is not None:
                self._reinstate(viewer_id, grant)
                current = None  # the grant is written again below, whatever it was
            if current != digest:
                self._change(viewer_id, grant, digest)
            return None
        username = site_username(grant.account)
        if self._viewers.by_username(username) is not None:
            return "username_taken"  # an invitation of the owner's with that very name
        self._insert(grant, digest, username)
        return None

    def _reinstate(self, viewer_id: str, grant: SiteGrant) -> None:
        """Undo the site's own withdrawal of a viewer it grants again (never the owner's)."""
        self._conn.execute(
            "UPDATE viewers SET revoked_at = NULL, revoke_reason = NULL"
            " WHERE id = ? AND revoke_reason = ?",
            (viewer_id, WITHDRAWN),
        )
        self._audit.append(
            AuditEvent.VIEWER_REINSTATED,
            actor=ACTOR,
            details={"viewer": site_username(grant.account), "origin": "site"},
        )

    def _columns(self, grant: SiteGrant) -> tuple[str, str, str | None, float | None]:
        return (
            json.dumps(sorted(set(grant.cameras))),
            json.dumps(sorted(set(grant.rooms))),
            grant.schedule.model_dump_json() if grant.schedule else None,
            grant.expires_at,
        )

    def _insert(self, grant: SiteGrant, digest: str, username: str) -> None:
        now = self._clock.wall()
        viewer_id = uuid.uuid4().hex
        # the parent accepted the viewing terms at the site (which shows VIEWING_TERMS): their
        # consent counts here only for the terms of this device's version; otherwise the device
        # refuses them `no_consent` until the site sends a grant with the current terms
        consent = now if grant.terms == TERMS_VERSION else None
        self._conn.execute(
            "INSERT INTO viewers (id, username, role, cameras, rooms, schedule, watermark,"
            " expires_at, invited_by, invited_at, accepted_at, consent_at, consent_terms)"
            " VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
            (
                viewer_id,
                username,
                grant.role,
                *self._columns(grant),
                ACTOR,
                now,
                now,
                consent,
                TERMS_VERSION if consent is not None else None,
            ),
        )
        self._conn.execute(
            "INSERT INTO site_viewers (viewer_id, account, grant_digest) VALUES (?, ?, ?)",
            (viewer_id, grant.account, digest),
        )
        self._audit.append(
            AuditEvent.VIEWER_INVITED,
            actor=ACTOR,
            details={**self._details(grant, username), "origin": "site"},
        )

    def _change(self, viewer_id: str, grant: SiteGrant, digest: str) -> None:
        consent = self._clock.wall() if grant.terms == TERMS_VERSION else None
        cameras, rooms, schedule, expires_at = self._columns(grant)
        self._conn.execute(
            "UPDATE viewers SET role = :role, cameras = :cameras, rooms = :rooms,"
            " schedule = :schedule, expires_at = :expires_at,"
            " consent_at = CASE WHEN :consent IS NULL THEN NULL"
            " ELSE COALESCE(consent_at, :consent) END,"
            " consent_terms = CASE WHEN :consent IS NULL THEN NULL ELSE :terms END"
            " WHERE id = :id",
            {
                "role": grant.role,
                "cameras": cameras,
                "rooms": rooms,
                "schedule": schedule,
                "expires_at": expires_at,
                "consent": consent,
                "terms": TERMS_VERSION,
                "id": viewer_id,
            },
        )
        self._conn.execute(
            "UPDATE site_viewers SET grant_digest = ? WHERE viewer_id = ?", (digest, viewer_id)
        )
        self._audit.append(
            AuditEvent.SITE_GRANT_CHANGED,
            actor=ACTOR,
            details=self._details(grant, site_username(grant.account)),
        )

    @staticmethod
    def _details(grant: SiteGrant, username: str) -> dict[str, object]:
        return {
            "viewer": username,
            "role": grant.role,
            "cameras": sorted(set(grant.cameras)),
            "rooms": sorted(set(grant.rooms)),
            "watermark": True,
            "expires_at": grant.expires_at,
        }
