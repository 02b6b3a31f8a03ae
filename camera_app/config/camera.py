"""``camera:`` — who this camera is."""

from __future__ import annotations

from pydantic import Field

from camera_app.config.base import StrictModel


class CameraConfig(StrictModel):
    id: str = Field(
        default="cam1",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="Stable id used in paths, the event index and (later) MQTT topics.",
    )
    name: str = Field(
        default="Camera", min_length=1, max_length=64, description="Display name for the owner."
    )
