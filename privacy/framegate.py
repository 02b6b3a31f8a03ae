"""The gate: the one place a RedactedFrame is made, streamed or withheld, with hysteresis."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from firmware.frames import Frame
from firmware.geometry import PixelBox
from privacy.frame import _GATE_TOKEN, FrameSeal, FrameStatus, RedactedFrame, WithholdReason
from privacy.slate import privacy_hold_slate


class FrameGate:
    """Decides per frame; fails closed.

    A frame with any problem is withheld (the slate goes out instead). After a withheld frame,
    ``release_frames`` clean frames in a row are withheld too (reason ``hysteresis``) before
    streaming resumes, so a flickering detector cannot open the stream for single frames.
    ``counts`` holds one counter per decision and reason.
    """

    def __init__(self, release_frames: int, models: Mapping[str, str]) -> None:
        self._release = release_frames
        self._to_release = 0
        self._models = MappingProxyType(dict(models))
        self.counts: Counter[str] = Counter()

    @property
    def models(self) -> Mapping[str, str]:
        return self._models

    def withhold(self, frame: Frame, reason: WithholdReason) -> RedactedFrame:
        self._to_release = self._release
        return self._withheld(frame, reason)

    def stream(
        self, frame: Frame, redacted: np.ndarray, regions: Sequence[PixelBox]
    ) -> RedactedFrame:
        """Stream ``redacted`` (the frame's image with ``regions`` redacted) unless the gate is
        still releasing after a withheld frame."""
        if self._to_release > 0:
            self._to_release -= 1
            return self._withheld(frame, WithholdReason.HYSTERESIS)
        if redacted is frame.image or np.shares_memory(redacted, frame.image):
            raise ValueError("the gate streams a redacted copy, never the captured image")
        redacted.flags.writeable = False
        self.counts[FrameStatus.STREAMED.value] += 1
        return RedactedFrame(
            image=redacted,
            timestamp=frame.timestamp,
            sequence=frame.sequence,
            status=FrameStatus.STREAMED,
            reason=None,
            regions=tuple(regions),
            models=self._models,
            token=FrameSeal(_GATE_TOKEN, redacted),
        )

    def _withheld(self, frame: Frame, reason: WithholdReason) -> RedactedFrame:
        self.counts[FrameStatus.WITHHELD.value] += 1
        self.counts[f"withheld.{reason.value}"] += 1
        slate = privacy_hold_slate(frame.width, frame.height)
        return RedactedFrame(
            image=slate,
            timestamp=frame.timestamp,
            sequence=frame.sequence,
            status=FrameStatus.WITHHELD,
            reason=reason,
            regions=(),
            models=self._models,
            token=FrameSeal(_GATE_TOKEN, slate),
        )
