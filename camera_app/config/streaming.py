"""``streaming:`` — parameters of the gated live path. Config alone can never turn it on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from camera_app.config.base import StrictModel

_NOT_BY_CONFIG = (
    "live streaming cannot be enabled in the config file; the owner turns it on through the "
    "streaming gates (explicit opt-in and real-name registration)"
)


class StreamingConfig(StrictModel):
    """Live streaming is off until the owner opts in and registers through the streaming gates;
    there is deliberately no ``enabled`` key, and setting one is an error."""

    profile: Literal["home", "kindergarten", "merchant"] = Field(
        default="home", description="Which set of streaming gates applies to this camera."
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_enable(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in ("enabled", "enable", "on")):
            raise ValueError(_NOT_BY_CONFIG)
        return data
