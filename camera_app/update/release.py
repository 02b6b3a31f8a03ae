"""What a release is: its version, and the custom metadata signed with its TUF target.

A release is one TUF target ``releases/camera-app-<version>.tar.gz`` whose ``custom`` field is::

    {"version": "1.2.0", "published": "2025-01-01T00:00:00Z",
     "changes_behaviour": ["detection", "redaction", "streaming"],   # may be empty
     "not_before": "2025-01-02T00:00:00Z",                            # or absent
     "models": {"centerface": "<sha256>", ...}}

The same rules are applied by the vendor's signing tool (deploy/tuf) and by the device, so a
release that breaks them is never signed, and is refused if it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import total_ordering
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from camera_app.update.errors import UpdateRefused

#: A behaviour-changing release may be activated this long after it was published, at the
#: earliest (and after the device first saw it: camera_app.update.notice).
NOTICE_PERIOD = timedelta(hours=24)
BEHAVIOURS = ("detection", "redaction", "streaming")
TARGET_PREFIX = "releases/camera-app-"
TARGET_SUFFIX = ".tar.gz"

_VERSION = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
_SHA256 = r"^[0-9a-f]{64}$"
_MODEL_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


@total_ordering
@dataclass(frozen=True, slots=True)
class Version:
    """A release version: exactly ``MAJOR.MINOR.PATCH`` (no pre-releases, so the order of
    versions is never in doubt)."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f"{text!r} is not a release version (MAJOR.MINOR.PATCH)")
        return cls(*(int(part) for part in match.groups()))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor, self.patch) < (other.major, other.minor, other.patch)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def is_version(text: str) -> bool:
    return bool(_VERSION.match(text))


def target_path(version: str) -> str:
    """The TUF target path of release ``version``."""
    return f"{TARGET_PREFIX}{Version.parse(version)}{TARGET_SUFFIX}"


def wheel_name(version: str) -> str:
    """The app wheel a release bundle carries."""
    return f"camera_app-{Version.parse(version)}-py3-none-any.whl"


def version_of_target(path: str) -> str | None:
    """The version in a release target path, or None when ``path`` is not a release."""
    if not (path.startswith(TARGET_PREFIX) and path.endswith(TARGET_SUFFIX)):
        return None
    middle = path[len(TARGET_PREFIX) : -len(TARGET_SUFFIX)]
    return middle if _VERSION.match(middle) else None


class _ReleaseMetadata(BaseModel):
    # Unknown keys are ignored (not refused) so that a newer signing tool can add fields
    # without cutting off devices in the field.
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str = Field(pattern=_VERSION.pattern)
    published: AwareDatetime
    changes_behaviour: list[Literal["detection", "redaction", "streaming"]] = Field(
        default_factory=list, max_length=len(BEHAVIOURS)
    )
    not_before: AwareDatetime | None = None
    models: dict[str, str] = Field(max_length=64)


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    """A release as its signed metadata describes it."""

    version: str
    published: datetime
    changes_behaviour: tuple[str, ...]
    not_before: datetime | None
    models: Mapping[str, str]  # model name → sha256 of its file

    @property
    def parsed_version(self) -> Version:
        return Version.parse(self.version)

    @property
    def target(self) -> str:
        return target_path(self.version)

    @property
    def changes(self) -> bool:
        """True when it changes detection, redaction or streaming behaviour (notice needed)."""
        return bool(self.changes_behaviour)

    @classmethod
    def from_custom(cls, custom: Any, target: str | None = None) -> ReleaseInfo:
        """Parse and check a target's custom metadata; raises :class:`UpdateRefused`."""
        where = f"release metadata of {target}" if target else "release metadata"
        if not isinstance(custom, Mapping):
            raise UpdateRefused(f"{where}: missing or not an object")
        try:
            meta = _ReleaseMetadata.model_validate(dict(custom))
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                for e in err.errors(include_url=False)
            )
            raise UpdateRefused(f"{where} is not valid: {problems}") from None
        for name, digest in meta.models.items():
            if not re.match(_MODEL_NAME, name) or not re.match(_SHA256, digest):
                raise UpdateRefused(f"{where}: model {name!r} needs a name and a sha256 (hex)")
        info = cls(
            version=meta.version,
            published=meta.published,
            changes_behaviour=tuple(sorted(set(meta.changes_behaviour))),
            not_before=meta.not_before,
            models=dict(meta.models),
        )
        if target is not None and version_of_target(target) != info.version:
            raise UpdateRefused(f"{where}: version {info.version} does not match the target name")
        info.check_notice()
        return info

    def check_notice(self) -> None:
        """A behaviour-changing release must carry a not_before ≥ published + 24 h."""
        if not self.changes:
            return
        what = ", ".join(self.changes_behaviour)
        if self.not_before is None:
            raise UpdateRefused(
                f"release {self.version} changes {what} but has no not_before (a notice period "
                f"of at least {_hours(NOTICE_PERIOD)} h is required)"
            )
        if self.not_before < self.published + NOTICE_PERIOD:
            raise UpdateRefused(
                f"release {self.version} changes {what} but its not_before "
                f"{iso(self.not_before)} is less than {_hours(NOTICE_PERIOD)} h after its "
                f"publication {iso(self.published)}"
            )

    def to_custom(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": self.version,
            "published": iso(self.published),
            "changes_behaviour": list(self.changes_behaviour),
            "models": dict(sorted(self.models.items())),
        }
        if self.not_before is not None:
            out["not_before"] = iso(self.not_before)
        return out


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a ``Z``, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)
