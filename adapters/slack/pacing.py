"""Per-channel posting pace: Slack allows about one `chat.postMessage` per second per channel
(short bursts tolerated). The core's shared budget is per workspace, so this channel-level
rule is kept here, in the transport: a token bucket per channel that makes a post wait for its
turn instead of drawing a 429. Edits are not paced here; the core's budget covers them.
"""

from __future__ import annotations

import asyncio

from bot.clock import Clock, MonotonicClock


class ChannelPacer:
    def __init__(
        self, *, interval_s: float = 1.0, burst: int = 3, clock: Clock | None = None
    ) -> None:
        self._interval = interval_s
        self._burst = max(1, burst)
        self._clock = clock or MonotonicClock()
        self._next_free: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait_turn(self, channel: str) -> None:
        """Return when one more post in `channel` keeps within `burst` per `burst × interval`."""
        if self._interval <= 0:
            return
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            now = self._clock.now()
            # `_next_free` is a virtual schedule: each post books one interval; up to `burst`
            # intervals may be booked ahead of now.
            booked = max(self._next_free.get(channel, now), now)
            wait = booked - now - (self._burst - 1) * self._interval
            if wait > 0:
                await self._clock.sleep(wait)
            self._next_free[channel] = booked + self._interval
