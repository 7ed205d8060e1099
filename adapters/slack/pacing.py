"""Per-channel posting pace: Slack allows about one `chat.postMessage` per second per channel
(short bursts tolerated). The core's shared budget is per workspace, so this channel-level
rule is kept here, in the transport: a token bucket per channel (`burst` posts at once, then one
per `interval_s`) makes a post wait for its turn instead of drawing a 429.

Posts in one channel go one at a time and a token is charged when Slack has *answered*, so the
bucket here is never fuller than Slack's (which counts from arrival, always earlier), whatever the
network latency. Edits are not paced here; the core's budget covers them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.clock import Clock, MonotonicClock


class ChannelPacer:
    def __init__(
        self, *, interval_s: float = 1.0, burst: int = 3, clock: Clock | None = None
    ) -> None:
        self._interval = interval_s
        self._burst = float(max(1, burst))
        self._clock = clock or MonotonicClock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        """Hold the channel's turn for one post: wait for a token, post, then charge it."""
        if self._interval <= 0:
            yield
            return
        async with self._locks.setdefault(channel, asyncio.Lock()):
            tokens = self._tokens(channel)
            if tokens < 1.0:
                await self._clock.sleep((1.0 - tokens) * self._interval)
            try:
                yield
            finally:
                self._buckets[channel] = (self._tokens(channel) - 1.0, self._clock.now())

    def _tokens(self, channel: str) -> float:
        now = self._clock.now()
        tokens, last = self._buckets.get(channel, (self._burst, now))
        return min(self._burst, tokens + (now - last) / self._interval)
