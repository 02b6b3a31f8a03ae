"""``capture:`` — which camera to read and how."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from firmware.configbase import StrictModel

_SOURCE_PREFIXES = ("auto", "v4l2:", "file:", "rtsp://", "rtsps://", "test:", "picamera2")


class CaptureConfig(StrictModel):
    source: str = Field(
        default="auto",
        description=(
            "auto (picamera2, then V4L2, else the synthetic scene), picamera2, v4l2:/dev/videoN, "
            "file:PATH, rtsp://HOST/PATH or test: (synthetic moving scene)."
        ),
    )
    width: int = Field(default=640, ge=160, le=3840, description="Requested frame width (px).")
    height: int = Field(default=480, ge=120, le=2160, description="Requested frame height (px).")
    fps: float = Field(default=15.0, gt=0, le=60, description="Requested frame rate.")
    pacing: Literal["realtime", "fast"] = Field(
        default="realtime",
        description="file: sources only — realtime plays at the file's rate, fast as fast as "
        "the pipeline can take frames (benchmarks, offline runs).",
    )
    loop: bool = Field(default=True, description="file: sources only — restart at the end.")

    @field_validator("source")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value == "auto" or value == "picamera2" or value.startswith(_SOURCE_PREFIXES[1:]):
            return value
        raise ValueError(
            "unknown source; use auto, picamera2, v4l2:/dev/videoN, file:PATH, rtsp://… or test:"
        )
