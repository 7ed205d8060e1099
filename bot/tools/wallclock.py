"""Wall-clock time derived from the injected monotonic `Clock`, so expiry is testable.

`now()` is `origin + (clock.now() - clock_at_origin)`: with the real clock it is the real UTC time;
with `FakeClock` it advances exactly as the fake does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.clock import Clock


class WallClock:
    def __init__(self, clock: Clock, *, origin: datetime | None = None) -> None:
        self.clock = clock
        self._origin = origin or datetime.now(UTC)
        self._mono = clock.now()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=self.clock.now() - self._mono)

    async def sleep_until(self, when: datetime) -> None:
        await self.clock.sleep(max(0.0, (when - self.now()).total_seconds()))
