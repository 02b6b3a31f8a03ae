"""``recording:`` — clips and snapshots."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from firmware.configbase import StrictModel


class RecordingConfig(StrictModel):
    enabled: bool = Field(
        default=True, description="Record clips; events are still indexed when off."
    )
    crf: int = Field(
        default=26, ge=0, le=51, description="H.264 quality (lower is better and bigger)."
    )
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        default="veryfast", description="x264 speed/size trade-off."
    )
    fragment_s: float = Field(
        default=1.0,
        ge=0.2,
        le=10,
        description="Keyframe interval and MP4 fragment length: at most this much of a clip is "
        "lost on a power cut.",
    )
    snapshot_quality: int = Field(default=85, ge=10, le=100, description="JPEG quality.")
