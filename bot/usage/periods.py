"""Calendar periods in UTC, for usage reports and daily token budgets.

`today` starts at 00:00 UTC, `week` on Monday 00:00 UTC, `month` on the 1st 00:00 UTC; each runs
to now. The current time is injected (`Now`) wherever a period is computed, so tests can move a
day forward without waiting for one (`bot.tools.wallclock.WallClock(fake_clock).now` is one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Now = Callable[[], datetime]
"""The current UTC time."""
PERIODS = ("today", "week", "month")


def utc_now() -> datetime:
    return datetime.now(UTC)


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
