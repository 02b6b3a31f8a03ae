"""The privacy stage (detect → track → redact → gate) and, later, the streaming gates.

This package's face towards the streaming side is only the frame type the gate makes; the stage
itself is ``privacy.stage`` (built by ``privacy.build``), which streaming may not import.
"""

from privacy.frame import FrameStatus, RedactedFrame, WithholdReason

__all__ = ["FrameStatus", "RedactedFrame", "WithholdReason"]
