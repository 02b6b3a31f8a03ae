"""``camera:`` — who this camera is."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator

from firmware.configbase import StrictModel


class CameraConfig(StrictModel):
    id: str = Field(
        default="cam1",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Stable id used in paths, the event index and (later) MQTT topics.",
    )
    name: str = Field(
        default="Camera", min_length=1, max_length=64, description="Display name for the owner."
    )
    room: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Room or area the camera watches (kindergarten: parents are invited per "
        "room or per camera).",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone for viewing schedules and notice hours, e.g. Asia/Shanghai. "
        "Default: the system's local zone.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Shanghai)")
        return value

    def tzinfo(self) -> tzinfo:
        """The zone schedules are read in."""
        if self.timezone is None:
            local = datetime.now().astimezone().tzinfo
            assert local is not None
            return local
        try:
            return ZoneInfo(self.timezone)
        except ZoneInfoNotFoundError:  # validated above; only if tzdata vanished since
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
