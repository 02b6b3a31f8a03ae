"""Scoped API tokens: what the owner gives an integration (Home Assistant reading events and
snapshots, say) instead of a password.

A token is named, shown once, stored only as its SHA-256, revocable, and carries the fewest
scopes the integration needs; a request made with it reaches only the routes that name one of
its scopes (``camera_app.api.routes``), never the owner's other routes. Creating and revoking
one are audited; so is everything it reads, as for the owner, with the token as the actor.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from camera_app.logins import Principal
from firmware.clock import Clock
from privacy.audit import AuditEvent, AuditLog
from privacy.gates.roles import Role

PREFIX = "cat_"  # tells a token from a login session at a glance (and to secret scanners)
MAX_TOKENS = 50


class Scope(StrEnum):
    """What a token may do; each route names the one it needs."""

    EVENTS_READ = "events:read"  # event list, event, snapshot, clip
    DEVICE_READ = "device:read"  # device health
    MONITORING_ARM = "monitoring:arm"  # arm and disarm


class TokenError(ValueError):
    """A token cannot be made (``code``: ``too_many``, ``name_taken``)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    name: str
    scopes: tuple[Scope, ...]
    created_by: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        row["id"],
        row["name"],
        tuple(Scope(s) for s in json.loads(row["scopes"])),
        row["created_by"],
        row["created_at"],
        row["last_used_at"],
        row["revoked_at"],
    )


class ApiTokens:
    """The device's API tokens (one database connection, the API's)."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, audit: AuditLog) -> None:
        self._conn = conn
        self._clock = clock
        self._audit = audit

    def create(self, name: str, scopes: list[Scope], *, actor: str) -> tuple[ApiToken, str]:
        """A new token (audited); returns it and its secret, which is never shown again."""
        active = self.all(include_revoked=False)
        if len(active) >= MAX_TOKENS:
            raise TokenError("too_many", f"at most {MAX_TOKENS} tokens; revoke one first")
        if any(t.name == name for t in active):
            raise TokenError("name_taken", "a token with this name exists; pick another name")
        secret = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            uuid.uuid4().hex,
            name,
            tuple(sorted(set(scopes))),
            actor,
            self._clock.wall(),
            None,
            None,
        )
        self._conn.execute(
            "INSERT INTO api_tokens (id, name, token_hash, scopes, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                name,
                _digest(secret),
                json.dumps(list(token.scopes)),
                actor,
                token.created_at,
            ),
        )
        self._audit.append(
            AuditEvent.TOKEN_CREATED,
            actor=actor,
            details={"integration": token.id, "name": name, "scopes": list(token.scopes)},
        )
        return token, secret

    def all(self, *, include_revoked: bool = True) -> list[ApiToken]:
        sql = "SELECT * FROM api_tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        return [_token(r) for r in self._conn.execute(sql + " ORDER BY created_at").fetchall()]

    def revoke(self, token_id: str, *, actor: str) -> ApiToken | None:
        """Revoke a token (audited); None when there is no such token in force."""
        cur = self._conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self._clock.wall(), token_id),
        )
        if cur.rowcount == 0:
            return None
        row = self._conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
        token = _token(row)
        self._audit.append(
            AuditEvent.TOKEN_REVOKED,
            actor=actor,
            details={"integration": token.id, "name": token.name},
        )
        return token

    def lookup(self, secret: str) -> Principal | None:
        """The caller a token in force stands for, or None."""
        if not secret.startswith(PREFIX) or len(secret) > 128:
            return None
        row = self._conn.execute(
            "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (_digest(secret),),
        ).fetchone()
        if row is None:
            return None
        token = _token(row)
        self._conn.execute(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (self._clock.wall(), token.id)
        )
        return Principal(
            f"token:{token.name}"[:64],
            Role.OWNER,  # the owner's token; the scopes are what limit it
            token.id,
            math.inf,
            frozenset(token.scopes),
        )
