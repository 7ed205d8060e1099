"""Per-channel pacing of new messages, on top of the scope's shared `RateBudget`.

How this works
--------------
Some platforms also limit how fast new messages arrive in one channel (Slack: about one
`chat.postMessage` per second per channel, short bursts tolerated), whatever the scope's budget
says. An adapter declares that as data (`Capabilities.post_interval_s` / `post_burst`); this is
where it is enforced, for every post the engine makes: placeholders, rollover posts and one-shot
posts alike. Edits are not paced here; the budget and `min_edit_interval_s` cover them.

A token bucket per channel: `burst` posts at once, then one per `interval_s`. A post takes the
channel's `turn` *before* it asks the budget for a slot, so a budget slot is never held while a
channel waits. Posts in one channel go one at a time, and the token is charged when the platform
has *answered* (refused calls included: the platform counted them), so the bucket here is never
fuller than the platform's, which counts from the request's arrival (always earlier), whatever
the network latency. Sleeps are on the injected clock.

Channels whose bucket is full again are forgotten once many are tracked, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.capabilities import RateScope
from bot.clock import Clock
from bot.delivery.budget import scope_key
from bot.refs import ConversationRef

MAX_CHANNELS = 1024
"""Tracked channels past which idle ones are dropped."""


class _Bucket:
    __slots__ = ("at", "lock", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at
        """When `tokens` was last counted."""
        self.lock = asyncio.Lock()


class PostPacer:
    """At most `burst` posts at once per channel, then one per `interval_s`; 0 turns it off."""

    def __init__(self, *, interval_s: float, burst: int, clock: Clock) -> None:
        self._interval = interval_s
        self._burst = float(max(1, burst))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    @asynccontextmanager
    async def turn(self, ref: ConversationRef) -> AsyncIterator[None]:
        """Hold `ref`'s channel for one post: wait for a token, post, then charge it."""
        if self._interval <= 0:
            yield
            return
        bucket = self._bucket(scope_key(ref, RateScope.CHANNEL))
        async with bucket.lock:
            tokens = self._tokens(bucket)
            if tokens < 1.0:
                await self._clock.sleep((1.0 - tokens) * self._interval)
            try:
                yield
            finally:
                bucket.tokens, bucket.at = self._tokens(bucket) - 1.0, self._clock.now()

    def _bucket(self, key: str) -> _Bucket:
        found = self._buckets.get(key)
        if found is None:
            if len(self._buckets) >= MAX_CHANNELS:
                self._buckets = {
                    k: b
                    for k, b in self._buckets.items()
                    if b.lock.locked() or self._tokens(b) < self._burst
                }
            found = self._buckets[key] = _Bucket(self._burst, self._clock.now())
        return found

    def _tokens(self, bucket: _Bucket) -> float:
        return min(self._burst, bucket.tokens + (self._clock.now() - bucket.at) / self._interval)
