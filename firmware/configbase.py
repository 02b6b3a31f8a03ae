"""Shared building blocks of the configuration models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    xs = {p[0] for p in points}
    ys = {p[1] for p in points}
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError("polygon has no area (all points on one line)")
    return points


UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]

#: A polygon in normalised frame coordinates: ``[[x, y], ...]`` with 0 ≤ x, y ≤ 1 (0,0 is the top
#: left corner, 1,1 the bottom right), so masks survive a change of resolution.
Polygon = Annotated[list[tuple[UnitFloat, UnitFloat]], AfterValidator(_check_polygon)]


class NamedPolygon(StrictModel):
    """A polygon with a name the owner recognises (``"neighbour's window"``)."""

    name: str = Field(min_length=1, max_length=64, description="Label shown in logs and the UI.")
    points: Polygon = Field(description="Corners as [[x, y], ...] in 0..1 frame coordinates.")
