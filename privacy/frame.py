"""The only frame type the streaming side may receive: redacted, or withheld with a reason."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware.geometry import PixelBox

# Only privacy.framegate holds this object; RedactedFrame refuses to be built without it.
# Python cannot make this absolute, but no code path outside the gate can make one by accident,
# and the import contract keeps streaming/ away from raw frames altogether.
_GATE_TOKEN = object()


class FrameStatus(enum.StrEnum):
    STREAMED = "streamed"
    WITHHELD = "withheld"


class WithholdReason(enum.StrEnum):
    """Why the gate could not vouch for a frame."""

    WARMUP = "warmup"
    DETECTOR_ERROR = "detector_error"
    DETECTOR_TIMEOUT = "detector_timeout"
    DETECTOR_LAG = "detector_lag"
    UNCERTAIN_DETECTION = "uncertain_detection"
    PERSON_WITHOUT_FACE = "person_without_face"
    TOO_DARK = "too_dark"
    TOO_BLURRED = "too_blurred"
    HYSTERESIS = "hysteresis"
    RECOVERY = "recovery"  # a stage rebuilt after a failure has no memory yet


@dataclass(frozen=True, slots=True)
class RedactedFrame:
    """A frame that passed the gate.

    ``image`` is read-only: the redacted picture when ``status`` is streamed, the privacy-hold
    slate when withheld (never the original). ``regions`` are the boxes that were redacted,
    ``models`` the detector versions that vouched for it.
    """

    image: np.ndarray
    timestamp: float
    sequence: int
    status: FrameStatus
    reason: WithholdReason | None
    regions: tuple[PixelBox, ...]
    models: Mapping[str, str] = field(default_factory=dict)
    token: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.token is not _GATE_TOKEN:
            raise TypeError("RedactedFrame is made only by privacy.framegate.FrameGate")
        if self.image.flags.writeable:
            raise ValueError("RedactedFrame.image must be read-only")
        if (self.status is FrameStatus.WITHHELD) != (self.reason is not None):
            raise ValueError("a withheld frame needs a reason, a streamed one has none")

    @property
    def streamed(self) -> bool:
        return self.status is FrameStatus.STREAMED
