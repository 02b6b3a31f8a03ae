"""``events:`` — when motion becomes an event, and how long a clip lasts."""

from __future__ import annotations

from pydantic import Field, model_validator

from firmware.configbase import StrictModel


class EventsConfig(StrictModel):
    trigger_frames: int = Field(
        default=3, ge=1, le=100, description="Consecutive motion frames needed to start an event."
    )
    pre_roll_s: float = Field(
        default=2.0, ge=0, le=10, description="Seconds kept from before the trigger."
    )
    post_roll_s: float = Field(
        default=3.0, ge=0.2, le=60, description="Seconds without motion before an event ends."
    )
    max_length_s: float = Field(
        default=300.0, ge=5, le=3600, description="Longer events are split into several clips."
    )

    @model_validator(mode="after")
    def _post_roll_fits(self) -> EventsConfig:
        if self.post_roll_s >= self.max_length_s:
            raise ValueError("post_roll_s must be shorter than max_length_s")
        return self
