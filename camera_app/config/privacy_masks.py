"""``privacy_masks:`` — areas blacked out at capture, before anything records or streams them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from firmware.configbase import NamedPolygon, StrictModel

Byte = Annotated[int, Field(ge=0, le=255)]


class PrivacyMasksConfig(StrictModel):
    """Static privacy masks (a neighbour's window, a public pavement).

    They are burned into every frame in the capture thread, so recordings, snapshots and any later
    stream never contain those pixels. Distinct from ``motion.masks``, which only stop motion there
    from triggering events but keep the area visible.
    """

    color: tuple[Byte, Byte, Byte] = Field(
        default=(0, 0, 0), description="Fill colour as [B, G, R], each 0..255."
    )
    areas: list[NamedPolygon] = Field(default_factory=list, description="Polygons to black out.")
