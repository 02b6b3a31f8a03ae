"""``logging:`` — log level."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from firmware.configbase import StrictModel


class LoggingConfig(StrictModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Standard logging level."
    )
