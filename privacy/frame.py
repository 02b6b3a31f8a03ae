"""The only frame type the streaming side may receive: redacted, or withheld with a reason."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware.geometry import PixelBox

# Only privacy.framegate holds this key; a FrameSeal, and so a RedactedFrame, needs it. Python
# cannot make this absolute, but no code path outside the gate can make a frame by accident, and
# the import contract keeps streaming/ away from raw frames altogether.
_GATE_TOKEN = object()


class FrameSeal:
    """The gate's mark for one frame: made for one image, good for one ``RedactedFrame``.

    Binding the seal to the image object means a frame rebuilt around other pixels
    (``dataclasses.replace(frame, image=raw)``) is refused when it is built, and one whose image
    was swapped afterwards (``object.__setattr__``) is no longer :attr:`RedactedFrame.sealed`,
    which the frame hub checks. A seal cannot be pickled or copied.
    """

    __slots__ = ("_image", "_used")

    def __init__(self, key: object, image: np.ndarray) -> None:
        if key is not _GATE_TOKEN:
            raise TypeError("RedactedFrame is made only by privacy.framegate.FrameGate")
        self._image = image
        self._used = False

    def _claim(self, image: np.ndarray) -> bool:
        """Use the seal for a frame of ``image``; False if it is for another image or used."""
        if self._used or image is not self._image:
            return False
        self._used = True
        return True

    def covers(self, image: np.ndarray) -> bool:
        return image is self._image

    def __reduce__(self) -> Any:
        raise TypeError("a frame seal cannot be copied or pickled")


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
    token: FrameSeal | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # isinstance first: a look-alike object with a _claim() that says yes is no seal
        if not isinstance(self.token, FrameSeal) or not self.token._claim(self.image):
            raise TypeError("RedactedFrame is made only by privacy.framegate.FrameGate")
        if self.image.flags.writeable:
            raise ValueError("RedactedFrame.image must be read-only")
        if (self.status is FrameStatus.WITHHELD) != (self.reason is not None):
            raise ValueError("a withheld frame needs a reason, a streamed one has none")

    @property
    def streamed(self) -> bool:
        return self.status is FrameStatus.STREAMED

    @property
    def sealed(self) -> bool:
        """The image is still the one the gate sealed (checked by ``streaming.hub``)."""
        return isinstance(self.token, FrameSeal) and self.token.covers(self.image)

    # Immutable, so a copy is the frame itself; pickling would rebuild it without the gate.
    def __copy__(self) -> RedactedFrame:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> RedactedFrame:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a RedactedFrame cannot be copied or pickled: only the gate makes one")
