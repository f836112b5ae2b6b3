"""Budget periods: when a daily, weekly or monthly budget starts again.

A period starts at midnight in its time zone (an IANA name such as
``America/New_York``; ``UTC`` by default): every day for ``daily``, every
Monday for ``weekly`` (ISO weeks), on the first of the month for ``monthly``.
A ``lifetime`` budget never starts again. The control plane puts the current
period's bounds in each route, and the engine moves to the next period by
itself when its clock reaches the end, so both planes must agree on the
calendar to the second: this module is the one place it is written.

Bounds are unix seconds, the start included and the end not. Where a zone
skips midnight (its clocks jump forward at 00:00), the period starts at the
first instant of the day; where midnight happens twice, at the first one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_TIMEZONE_CHARS",
    "PERIODS",
    "BudgetWindow",
    "Period",
    "check_period",
    "check_timezone",
    "window_at",
    "zone",
]

Period = Literal["lifetime", "daily", "weekly", "monthly"]
PERIODS: tuple[Period, ...] = ("lifetime", "daily", "weekly", "monthly")
MAX_TIMEZONE_CHARS = 64
# IANA names: Area/Location, letters, digits, '_', '+', '-' (no dots: no path tricks)
_ZONE_NAME_RE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")


def check_period(value: str) -> Period:
    """`value` if it names a period, else ValueError listing them."""
    if value not in PERIODS:
        raise ValueError(f"must be one of {', '.join(PERIODS)}, got {value[:32]!r}")
    return value


def check_timezone(name: str) -> str:
    """`name` if it is a time zone this machine knows, else ValueError saying so."""
    zone(name)
    return name


def zone(name: str) -> tzinfo:
    """The time zone called `name`; ValueError when there is none."""
    if name == "UTC":  # needs no time zone database
        return UTC
    return _zone(name)


@lru_cache(maxsize=512)
def _zone(name: str) -> tzinfo:
    if len(name) > MAX_TIMEZONE_CHARS or not _ZONE_NAME_RE.match(name):
        raise ValueError(
            f"{name[:MAX_TIMEZONE_CHARS]!r} is not a time zone name "
            "(use an IANA name such as Europe/Paris or America/New_York)"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeDecodeError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None


@dataclass(frozen=True, slots=True)
class BudgetWindow:
    """One period of a budget: ``[start, end)`` in unix seconds."""

    period: Period
    timezone: str
    start: float
    end: float

    def following(self) -> BudgetWindow:
        """The period right after this one."""
        return window_at(self.period, self.timezone, self.end)


def window_at(period: Period, timezone: str, at: float) -> BudgetWindow:
    """The period of a `period` budget in `timezone` that holds the instant `at`.

    ValueError for a lifetime budget (it has no period) or an unknown zone.
    """
    if period == "lifetime":
        raise ValueError("a lifetime budget has no period")
    tz = zone(timezone)
    first = _first_day(period, datetime.fromtimestamp(at, tz).date())
    start, end = _midnight(first, tz), _midnight(_step(period, first, 1), tz)
    # a midnight that happens twice (or not at all) can leave `at` just outside
    while at >= end:
        first = _step(period, first, 1)
        start, end = end, _midnight(_step(period, first, 1), tz)
    while at < start:
        first = _step(period, first, -1)
        start, end = _midnight(first, tz), start
    return BudgetWindow(period, timezone, start, end)


def _first_day(period: Period, day: date) -> date:
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    return day


def _step(period: Period, first: date, n: int) -> date:
    """The first day of the period `n` periods after the one starting on `first`."""
    if period == "weekly":
        return first + timedelta(days=7 * n)
    if period == "monthly":
        months = first.year * 12 + first.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    return first + timedelta(days=n)


def _midnight(day: date, tz: tzinfo) -> float:
    # fold=0: a midnight that happens twice is its first; one that is skipped
    # maps to the instant the clocks jumped, the first of the day
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()
