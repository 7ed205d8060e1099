"""Calendar periods in UTC, for usage reports and daily token budgets.

`today` starts at 00:00 UTC, `week` on Monday 00:00 UTC, `month` on the 1st 00:00 UTC; each runs
to now. Wall time is injected (`WallClock`) wherever a period is computed, so tests can move a
day forward without waiting for one (`wall_clock_of` turns the monotonic `FakeClock` into one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.clock import Clock

WallClock = Callable[[], datetime]
PERIODS = ("today", "week", "month")


def utc_now() -> datetime:
    return datetime.now(UTC)


def wall_clock_of(clock: Clock, *, epoch: datetime) -> WallClock:
    """Wall time that moves with `clock` (`epoch` at clock time 0): a fake clock's day."""
    return lambda: epoch + timedelta(seconds=clock.now())


def period_start(period: str, now: datetime) -> datetime:
    """When `period` ("today", "week" or "month") began, as of `now` (UTC)."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def next_day(now: datetime) -> datetime:
    """The next 00:00 UTC after `now`: when a daily budget starts again."""
    return period_start("today", now) + timedelta(days=1)
