"""Shared rate budgets: one per declared rate limit and scope, used by every reply and post there.

How this works
--------------
A platform counts calls per limit and scope (Slack: `chat.update` per workspace and posts per
channel; Discord: a bucket per channel plus a global limit; Teams: three windows per thread), so
each `RateLimit` an adapter declares gets one budget per `scope_key(ref, scope)`, shared by every
`StreamingReply` and one-shot post there (`bot.delivery.budgets` finds the budgets of a call); one
hot conversation cannot hide behind a per-reply clock, and two scopes never wait on each other.

`RateBudget` is a sliding-window limiter: at most `limit` calls in any `window_s` seconds,
counted from when each call *finished* (in-flight calls always count), which is conservative
whatever the platform's own clock and the call latency. A limit declared with a `burst` is a
token bucket instead (Slack's posts per channel: a short burst, then about one a second): up to
`burst` calls at once, one token back every `window_s / limit` seconds. A call takes its token
when it finishes (the same conservatism as the window's) and holds one back while in flight. Streaming edits leave the last
tenth of the burst to finals and are paced by the bucket itself. A 429 pauses the whole scope until
`retry_after` has passed (`release(..., retry_after=...)`): the platform has said the scope is
spent. A slot released unused (`used=False`: the caller found nothing left to send) is given
back. What a platform announces about its own window (`announce(remaining, reset_after_s)`,
from headers such as Discord's X-RateLimit-*) caps the grants until that reset, counting the
calls still in flight, so the budget tightens before the platform has to say 429.

Callers wait in a queue ordered by `Priority`, then arrival: final edits, placeholders and
approval cards (`FINAL`) go before streaming edits (`STREAM`). A waiting ticket can be promoted
when its reply is finishing. Streaming edits are also kept from spending the window in one burst
(which would freeze every reply in the scope for the rest of the window): they may not use the
last `reserve` slots (10%, kept for finals and cards) and are paced by a token bucket that refills
at `(limit - reserve) / window_s` with a burst of a fifth of that. Finals are bound only by the
window and a 429 pause.

One pump task per budget hands out slots; it sleeps on the injected clock until the next slot
can be granted, or until the queue or the window changes, so tests with a `FakeClock` are exact
and instant.

A small hand-written limiter rather than a library: `aiolimiter` and `pyrate-limiter` read the
event loop's or the system's time and sleep with `asyncio.sleep`, and neither orders waiters by
priority; both are needed here.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from enum import IntEnum

from bot.capabilities import RateScope
from bot.clock import Clock
from bot.refs import ConversationRef


class Priority(IntEnum):
    FINAL = 0
    """Final edits, placeholders, approval cards and command answers."""
    STREAM = 1
    """Intermediate edits of a growing reply: the first to wait, and droppable."""


def scope_key(ref: ConversationRef, scope: RateScope) -> str:
    """The key of the budget `ref` draws from under `scope`."""
    if scope is RateScope.GLOBAL:
        return ref.platform
    if scope is RateScope.WORKSPACE:
        return f"{ref.platform}:{ref.workspace_id}"
    if scope is RateScope.CHANNEL:
        return f"{ref.platform}:{ref.workspace_id}:{ref.channel_id}"
    return f"{ref.platform}:{ref.workspace_id}:{ref.channel_id}:{ref.thread_id or ''}"


_seq = itertools.count()
_EPSILON_S = 1e-6
"""A slot frees this much after its window ends, so float rounding never lets a call in early."""


class Ticket:
    """One caller's place in a budget's queue, then its slot once granted."""

    __slots__ = ("at", "granted", "priority", "released", "seq")

    def __init__(self, priority: Priority) -> None:
        self.priority = priority
        self.seq = next(_seq)
        self.granted: asyncio.Future[None] | None = None
        self.at = 0.0
        """When the slot was granted; when the call finished, once released."""
        self.released = False

    @property
    def order(self) -> tuple[int, int]:
        return (int(self.priority), self.seq)


@dataclass(slots=True)
class _Bucket:
    """A token bucket: `capacity` calls at once, refilled at `rate` calls a second."""

    capacity: float
    rate: float
    tokens: float
    at: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now

    @property
    def full(self) -> bool:
        return self.tokens >= self.capacity - _EPSILON_S

    def ready_at(self, now: float, keep: int, in_flight: int) -> float | None:
        """When a token is there beyond the `keep` left for others and those the calls in
        flight will take when they finish; None until one of them finishes."""
        need = 1.0 + keep + in_flight
        if self.tokens >= need:
            return now
        if need > self.capacity:
            return None
        return now + (need - self.tokens) / self.rate + _EPSILON_S


class RateBudget:
    """At most `limit` calls per `window_s` in one scope (with `burst`: a token bucket of that
    size refilled at that rate), handed out by priority."""

    def __init__(
        self, *, limit: int, window_s: float, clock: Clock, burst: int | None = None
    ) -> None:
        if limit < 1 or window_s <= 0 or (burst is not None and burst < 1):
            raise ValueError("a rate budget needs limit >= 1, window_s > 0 and burst >= 1")
        self.limit = limit
        self.window_s = window_s
        self._bucket = (
            None
            if burst is None
            else _Bucket(capacity=burst, rate=limit / window_s, tokens=burst, at=clock.now())
        )
        self.reserve = (limit if burst is None else burst) // 10
        """Window slots streaming edits leave for finals and cards."""
        self._stream_rate = (limit - self.reserve) / window_s
        self._stream_burst = max(1.0, (limit - self.reserve) // 5)
        self._stream_tokens = self._stream_burst
        self._clock = clock
        self._refilled = clock.now()
        self._slots: list[Ticket] = []
        self._waiting: list[Ticket] = []
        self._paused_until = float("-inf")
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._announced_left = 0
        self._announced_until = float("-inf")

    @property
    def idle(self) -> bool:
        """No one waits and no call counts any more: the budget can be forgotten."""
        now = self._clock.now()
        self._prune(now)
        self._refill(now)
        full = self._bucket is None or self._bucket.full
        return not self._waiting and not self._slots and self._paused_until <= now and full

    @property
    def free(self) -> bool:
        """A call could have a slot at once, and no one is waiting for one."""
        now = self._clock.now()
        self._refill(now)
        ready = self._ready_at(Priority.STREAM, now)
        return not self._waiting and ready is not None and ready <= now

    async def acquire(self, ticket: Ticket) -> None:
        """Wait for a slot. Always `release` the ticket afterwards."""
        loop = asyncio.get_running_loop()
        ticket.granted = loop.create_future()
        if not self._waiting and self._grant_now(ticket):
            return  # fast path: nobody queued and a slot is free, no trip through the pump
        self._waiting.append(ticket)
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._run())
        else:
            self._changed.set()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            elif ticket.granted.done() and not ticket.granted.cancelled():
                self.release(ticket)
            raise

    def promote(self, ticket: Ticket) -> None:
        """Move a waiting ticket to the front class (its reply is finishing)."""
        ticket.priority = Priority.FINAL
        self._changed.set()

    def release(
        self, ticket: Ticket, *, retry_after: float | None = None, used: bool = True
    ) -> None:
        """The call is over; with `retry_after` it was refused with 429 and the scope pauses.
        `used=False`: no call was made, the slot goes back."""
        now = self._clock.now()
        if not used and not ticket.released and retry_after is None:
            if ticket in self._slots:
                self._slots.remove(ticket)
                if self._bucket is None and ticket.priority is Priority.STREAM:
                    self._stream_tokens = min(self._stream_burst, self._stream_tokens + 1.0)
            ticket.released = True
            self._changed.set()
            return
        if not ticket.released:
            ticket.released = True
            if self._bucket is not None:  # the call takes its token when it finishes
                self._refill(now)
                self._bucket.tokens -= 1.0
            ticket.at = now
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._changed.set()

    def announce(self, remaining: int, reset_after_s: float) -> None:
        """The platform said `remaining` calls are left until `reset_after_s` from now."""
        now = self._clock.now()
        in_flight = sum(not s.released for s in self._slots)
        self._announced_left = max(0, remaining - in_flight)
        self._announced_until = now + max(0.0, reset_after_s)
        self._changed.set()

    def _prune(self, now: float) -> None:
        """Forget finished calls out of the window (a bucket keeps only calls in flight)."""
        window = -1.0 if self._bucket is not None else self.window_s
        self._slots = [s for s in self._slots if not s.released or s.at + window + _EPSILON_S > now]

    def _refill(self, now: float) -> None:
        if self._bucket is not None:
            self._bucket.refill(now)
            return
        earned = (now - self._refilled) * self._stream_rate
        self._stream_tokens = min(self._stream_burst, self._stream_tokens + earned)
        self._refilled = now

    def _ready_at(self, priority: Priority, now: float) -> float | None:
        """When a ticket of `priority` can go: now or later, None while in-flight calls fill it."""
        self._prune(now)
        limit = self.limit if priority is Priority.FINAL else self.limit - self.reserve
        at = max(now, self._paused_until)
        if self._announced_left <= 0 and now < self._announced_until:
            at = max(at, self._announced_until + _EPSILON_S)
        if self._bucket is not None:
            keep = 0 if priority is Priority.FINAL else self.reserve
            in_flight = sum(not s.released for s in self._slots)
            ready = self._bucket.ready_at(now, keep, in_flight)
            return None if ready is None else max(at, ready)
        if priority is Priority.STREAM and self._stream_tokens < 1.0:
            at = max(at, now + (1.0 - self._stream_tokens) / self._stream_rate)
        if len(self._slots) < limit:
            return at
        done = sorted(s.at for s in self._slots if s.released)
        overflow = len(self._slots) - limit
        if overflow >= len(done):
            return None
        return max(at, done[overflow] + self.window_s + _EPSILON_S)

    async def _run(self) -> None:
        while self._waiting:
            now = self._clock.now()
            self._refill(now)
            ticket = min(self._waiting, key=lambda t: t.order)
            assert ticket.granted is not None
            if ticket.granted.done():  # cancelled while queued
                self._waiting.remove(ticket)
                continue
            if not self._grant_now(ticket):
                ready = self._ready_at(ticket.priority, now)
                await self._wait(None if ready is None else ready - now)
                continue
            self._waiting.remove(ticket)

    def _grant_now(self, ticket: Ticket) -> bool:
        """Give `ticket` a slot if one is free at this instant."""
        now = self._clock.now()
        self._refill(now)
        ready = self._ready_at(ticket.priority, now)
        if ready is None or ready > now:
            return False
        if self._bucket is None and ticket.priority is Priority.STREAM:
            self._stream_tokens -= 1.0
        if now < self._announced_until:
            self._announced_left -= 1
        ticket.at = now
        self._slots.append(ticket)
        assert ticket.granted is not None
        ticket.granted.set_result(None)
        return True

    async def _wait(self, delay: float | None) -> None:
        """Until `delay` passes on the clock, or the queue or the window changes."""
        self._changed.clear()
        changed = asyncio.ensure_future(self._changed.wait())
        if delay is None:
            await changed
            return
        timer = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait((changed, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (changed, timer):
                waiter.cancel()
