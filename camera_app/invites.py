"""What an invited viewer is shown of their grant: before accepting (the invite preview, with the
viewing terms they consent to) and afterwards (their own viewing hours in ``GET /api/me``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Literal

from privacy.gates.roles import Role
from privacy.gates.viewers import (
    TERMS_VERSION,
    VIEWING_TERMS,
    CameraInfo,
    Viewer,
    viewer_covers,
)


def _lang(lang: str) -> Literal["en", "zh"]:
    return "zh" if lang == "zh" else "en"


def effective_watermark(viewer: Viewer) -> bool:
    """Whether the viewer's frames carry the watermark: parents' always do (they only ever see
    kindergarten cameras, where :func:`privacy.gates.viewers.decide_access` forces it)."""
    return viewer.watermark or viewer.role == Role.PARENT


def grant_conditions(viewer: Viewer, tz: tzinfo, lang: str) -> dict[str, object]:
    """The conditions of a viewer's grant: weekly schedule (in the device's time zone ``tz``,
    also as text in ``lang``), end date, watermark."""
    schedule = viewer.schedule
    expires = viewer.expires_at
    return {
        "timezone": str(tz),
        "schedule": schedule.model_dump() if schedule else None,
        "schedule_text": schedule.describe(_lang(lang)) if schedule else None,
        "expires_at": expires,
        "expires_on": datetime.fromtimestamp(expires, tz).date().isoformat() if expires else None,
        "watermark": effective_watermark(viewer),
    }


def invite_preview(
    viewer: Viewer, cameras: Iterable[CameraInfo], tz: tzinfo, lang: str
) -> dict[str, object]:
    """What a pending invitation grants and the terms the viewer consents to by accepting it
    (``terms.text`` in ``lang``, both languages beside it)."""
    en, zh = VIEWING_TERMS[viewer.role]
    return {
        "username": viewer.username,
        "role": viewer.role,
        "cameras": [
            {"id": c.id, "name": c.name, "room": c.room}
            for c in cameras
            if viewer_covers(viewer, c)
        ],
        "rooms": list(viewer.rooms),
        **grant_conditions(viewer, tz, lang),
        "consent_required": viewer.role == Role.PARENT,
        "terms": {
            "version": TERMS_VERSION,
            "lang": _lang(lang),
            "text": zh if lang == "zh" else en,
            "en": en,
            "zh": zh,
        },
    }
