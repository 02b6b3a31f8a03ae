"""How many live-view sessions the device serves itself, and who a session's slot counts against.

The decision is a pure function (:func:`refusal`) over the slots already taken, so it is tested
without peers; :class:`streaming.whep.ViewerSessions` calls it and takes the slot in the same
step, before it awaits anything. Kept apart from :mod:`streaming.whep` so that loading the
configuration does not load aiortc.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import Field, model_validator

from firmware.configbase import StrictModel


class ViewerLimits(StrictModel):
    """Limits of the live view the device serves itself (WHEP); many viewers go through a relay."""

    per_camera: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Viewer sessions one camera serves at once, the owner's reserve included; "
        "each costs the device bandwidth and, with a watermark, an encode of its own.",
    )
    owner_reserve: int = Field(
        default=1,
        ge=0,
        le=31,
        description="How many of per_camera only the owner can take, so that viewers (a "
        "public audience above all) can never lock the owner out of their own camera.",
    )
    per_account: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Sessions one account holds at once (e.g. a phone and a tablet). A public "
        "viewer has no account: each login with the link (each phone) counts on its own.",
    )
    per_public_link: int = Field(
        default=2,
        ge=1,
        le=32,
        description="Sessions the whole audience of one public link holds at once, however "
        "many phones log in with it (so one shared link cannot take every slot; a larger "
        "audience watches through the relay).",
    )
    negotiation_timeout_s: float = Field(
        default=15.0,
        ge=0.5,
        le=120.0,
        description="A session whose peer connection is not up this long after the offer was "
        "answered is ended and frees its slot (a client that never connects cannot hold one).",
    )

    @model_validator(mode="after")
    def _reserve_fits(self) -> ViewerLimits:
        if self.owner_reserve >= self.per_camera:
            raise ValueError(
                "owner_reserve must be less than per_camera: viewers other than the owner would "
                "get no session at all"
            )
        return self


@dataclass(frozen=True, slots=True)
class Seat:
    """Who holds one viewer session's slot: what the limits count, and who may end it."""

    camera_id: str
    account: str  # the account name (audit, "who is watching")
    holder: str  # what per_account counts: the account, or a public viewer's login session
    login: str | None = None  # the login session that opened it: only it (or the owner) ends it
    link: str | None = None  # a public link: its whole audience counts against per_public_link
    owner: bool = False  # the owner may take the reserved slots


def refusal(taken: Iterable[Seat], seat: Seat, limits: ViewerLimits) -> tuple[str, str] | None:
    """Why ``seat`` cannot be taken beside the ``taken`` ones: ``(code, reason)``; None when it
    can."""
    taken = list(taken)
    on_camera = [s for s in taken if s.camera_id == seat.camera_id]
    full = len(on_camera) >= limits.per_camera or (
        not seat.owner
        and sum(not s.owner for s in on_camera) >= limits.per_camera - limits.owner_reserve
    )
    if full:
        return "camera_full", "this camera has its maximum of viewers"
    if sum(s.holder == seat.holder for s in taken) >= limits.per_account:
        return "account_full", "this account has its maximum of sessions"
    if seat.link is not None and sum(s.link == seat.link for s in taken) >= limits.per_public_link:
        return "link_full", "this viewing link has its maximum of viewers"
    return None
