"""``onboarding:`` — the school's named viewing schedules a class list may refer to."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from firmware.configbase import StrictModel
from privacy.gates.schedule import Schedule

ScheduleName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^\S.*$")
]


class OnboardingConfig(StrictModel):
    schedules: dict[ScheduleName, Schedule] = Field(
        default_factory=dict,
        max_length=32,
        description="Named viewing schedules of the school, e.g. {full-day: {windows: [{days: "
        "[mon, tue, wed, thu, fri], start: '08:00', end: '17:00'}]}, 半日: ...}. A class list's "
        "schedule column may name one (case does not matter) instead of spelling out weekdays "
        "and hours.",
    )
