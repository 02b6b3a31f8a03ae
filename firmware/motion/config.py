"""``motion:`` — the motion detector."""

from __future__ import annotations

from pydantic import Field

from firmware.configbase import NamedPolygon, StrictModel


class MotionConfig(StrictModel):
    detect_width: int = Field(
        default=320, ge=80, le=1280, description="Frames are downscaled to this width (grey)."
    )
    threshold: int = Field(
        default=20, ge=1, le=255, description="Per-pixel grey-level change that counts as motion."
    )
    min_area: float = Field(
        default=0.003,
        gt=0,
        le=1,
        description="Smallest moving blob that counts, as a fraction of the frame area.",
    )
    background_rate: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="How fast the background model follows the scene (per frame, 0..1).",
    )
    light_change_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="If more than this fraction of the frame changes at once it is treated as a "
        "global light change (lamp, cloud, IR switch), not motion; the background re-learns.",
    )
    masks: list[NamedPolygon] = Field(
        default_factory=list,
        description="Areas where motion is ignored (a tree, a road). Still recorded.",
    )
