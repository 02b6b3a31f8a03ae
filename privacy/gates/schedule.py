"""Weekly time windows: when a parent may watch, when a merchant's posted notice says it streams.

A schedule is a list of windows, each a set of weekdays and a start and end time of day in the
camera's local time zone. A window whose end is earlier than its start runs past midnight (a bar
open 18:00–02:00 on Friday is open until 02:00 on Saturday). ``00:00``–``24:00`` is the whole day.

Schedules are pydantic models so the API validates them like every other payload, with errors
that name the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MAX_WINDOWS = 14
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Window(BaseModel):
    """Weekdays plus a start and end time (``HH:MM``, end may be ``24:00``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(min_length=1, max_length=7, description="Weekdays, e.g. [mon, tue].")
    start: str = Field(pattern=_HHMM, description="Local start time, HH:MM.")
    end: str = Field(
        pattern=_HHMM,
        description="Local end time, HH:MM; earlier than start = "
        "runs past midnight; 24:00 = end of day.",
    )

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[Day]) -> list[Day]:
        if len(set(days)) != len(days):
            raise ValueError("a day is listed twice")
        return sorted(days, key=DAYS.index)

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == "24:00":
            raise ValueError("start cannot be 24:00")
        if _minutes(self.start) == _minutes(self.end):
            raise ValueError("start and end are the same time (an empty window)")
        return self

    def _spans(self) -> list[tuple[int, int]]:
        """Minute-of-week intervals [a, b) this window covers (Monday 00:00 = 0)."""
        start, end = _minutes(self.start), _minutes(self.end)
        week = 7 * 1440
        spans = []
        for day in self.days:
            base = DAYS.index(day) * 1440
            if end > start:
                spans.append((base + start, base + end))
            else:  # past midnight, possibly from Sunday into Monday
                spans.append((base + start, base + 1440))
                spans.append(((base + 1440) % week, (base + 1440) % week + end))
        return [s for s in spans if s[1] > s[0]]

    def describe(self, lang: Literal["en", "zh"] = "en") -> str:
        names = _DAY_ZH if lang == "zh" else _DAY_EN
        idx = [DAYS.index(d) for d in self.days]
        if len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
            sep = "至" if lang == "zh" else "–"
            days = f"{names[idx[0]]}{sep}{names[idx[-1]]}"
        else:
            days = ("、" if lang == "zh" else ", ").join(names[i] for i in idx)
        return f"{days} {self.start}–{self.end}"


class Schedule(BaseModel):
    """One or more weekly windows, all in the camera's local time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    windows: list[Window] = Field(min_length=1, max_length=MAX_WINDOWS)

    def _intervals(self) -> list[tuple[int, int]]:
        return sorted(span for w in self.windows for span in w._spans())

    def contains(self, when: datetime) -> bool:
        """Whether the aware datetime ``when`` (already in the local zone) falls in a window."""
        minute = _minute_of_week(when)
        return any(a <= minute < b for a, b in self._intervals())

    def seconds_left(self, when: datetime) -> float | None:
        """Seconds until the current window closes, or None when ``when`` is outside all windows.

        Windows that touch or overlap count as one, so a parent allowed Monday to Friday
        08:00–24:00 and 00:00–02:00 is not cut off at midnight.
        """
        if not self.contains(when):
            return None
        week = 7 * 1440
        merged = _merge(self._intervals())
        # unroll over two weeks so a window crossing Sunday→Monday is continuous
        unrolled = _merge(merged + [(a + week, b + week) for a, b in merged])
        now = _minute_of_week(when) + when.second / 60 + when.microsecond / 60e6
        for a, b in unrolled:
            if a <= now < b:
                return _real_seconds(when, min(b - now, week))
        return None

    def period(self, when: datetime) -> tuple[datetime, datetime] | None:
        """The open period around ``when`` (windows that touch or overlap merged), as local
        datetimes ``(start, end)``; None when ``when`` is outside every window.

        A schedule open around the clock has no edges, so its periods are the calendar days
        (whatever lasts "until the end of the period" lasts until midnight).
        """
        if not self.contains(when):
            return None
        now = _minute_of_week(when) + when.second / 60 + when.microsecond / 60e6
        for a, b in self._periods():
            if a <= now < b:
                return _at_minute(when, a), _at_minute(when, b)
        return None  # not reached: contains() said a window covers it

    def next_period(self, when: datetime) -> tuple[datetime, datetime]:
        """The first open period that starts after ``when``, as local datetimes."""
        now = _minute_of_week(when) + when.second / 60 + when.microsecond / 60e6
        a, b = next((a, b) for a, b in self._periods() if a > now)
        return _at_minute(when, a), _at_minute(when, b)

    def _periods(self) -> list[tuple[float, float]]:
        """Merged open periods in minutes from Monday 00:00 of the current week, unrolled from
        the week before to two weeks after, so a period crossing Sunday→Monday is one piece."""
        week = 7 * 1440
        merged = _merge(self._intervals())
        if merged == [(0, week)]:  # open around the clock: one period per day
            return [(d * 1440.0, (d + 1) * 1440.0) for d in range(-7, 21)]
        return _merge([(a + k * week, b + k * week) for k in (-1, 0, 1, 2) for a, b in merged])

    def seconds_until_open(self, when: datetime) -> float:
        """Seconds from ``when`` until a window opens next; 0 when ``when`` is inside one."""
        if self.contains(when):
            return 0.0
        week = 7 * 1440
        merged = _merge(self._intervals())
        now = _minute_of_week(when) + when.second / 60 + when.microsecond / 60e6
        # a schedule has at least one window, so one opens within the next week
        start = min(a + week * (a <= now) for a, _ in merged)
        return _real_seconds(when, start - now)

    def describe(self, lang: Literal["en", "zh"] = "en") -> str:
        """Human text for a sign or a UI: ``Mon–Fri 08:00–17:30; Sat 09:00–12:00``."""
        sep = "；" if lang == "zh" else "; "
        return sep.join(w.describe(lang) for w in self.windows)


def _real_seconds(when: datetime, wall_minutes: float) -> float:
    """Elapsed seconds from ``when`` until its local wall clock has moved on ``wall_minutes``.

    Not simply ``wall_minutes * 60``: on a daylight-saving change day the wall clock skips or
    repeats an hour, and the seconds handed to a session timer must be real ones.
    """
    local_end = when.replace(tzinfo=None) + timedelta(minutes=wall_minutes)
    end = local_end.replace(tzinfo=when.tzinfo)
    return max(0.0, end.timestamp() - when.timestamp())


def _at_minute(when: datetime, minute: float) -> datetime:
    """The local datetime at ``minute`` from Monday 00:00 of ``when``'s week (wall time)."""
    day = when.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    monday = day - timedelta(days=when.weekday())
    return (monday + timedelta(minutes=minute)).replace(tzinfo=when.tzinfo)


def _minute_of_week(when: datetime) -> int:
    return when.weekday() * 1440 + when.hour * 60 + when.minute


def _merge(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def describe_moment(when: datetime, lang: Literal["en", "zh"] = "en") -> str:
    """A local moment as a schedule names it: ``Tue 08:00`` / ``周二 08:00``."""
    names = _DAY_ZH if lang == "zh" else _DAY_EN
    return f"{names[when.weekday()]} {when:%H:%M}"


def local_time(wall: float, tz: tzinfo) -> datetime:
    """Unix time as an aware datetime in the camera's zone ``tz``."""
    return datetime.fromtimestamp(wall, tz)


__all__ = ["DAYS", "Day", "Schedule", "Window", "describe_moment", "local_time"]
