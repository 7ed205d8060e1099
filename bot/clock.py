"""An injectable clock, so timing policy is testable without sleeping.

`MonotonicClock` is the real one. `FakeClock` advances only when someone sleeps on it (or
`advance` is called): a sleeper wakes when virtual time reaches its deadline, in deadline order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """Virtual time. With `autojump` (default) time jumps to the next sleeper's deadline as soon
    as every task is blocked, so code that sleeps runs instantly in tests with exact timings."""

    def __init__(self, start: float = 1000.0, *, autojump: bool = True) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._autojump = autojump
        self._jumper: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        if self._autojump and (self._jumper is None or self._jumper.done()):
            self._jumper = asyncio.get_running_loop().create_task(self._jump_when_idle())
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        self._now += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def _jump_when_idle(self) -> None:
        while self._sleepers:
            # Let every runnable task run until all are blocked again.
            for _ in range(50):
                await asyncio.sleep(0)
            self._sleepers = [s for s in self._sleepers if not s[2].done()]
            heapq.heapify(self._sleepers)
            if not self._sleepers:
                return
            deadline = self._sleepers[0][0]
            if deadline > self._now:
                self._now = deadline
            self._wake_due()
