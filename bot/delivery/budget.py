"""Shared rate budgets: one per rate scope, used by every reply and post in that scope.

How this works
--------------
A platform counts calls per scope (Slack: a workspace, Discord: a channel, Teams: a thread), so
the budget is keyed by `scope_key(ref, scope)` and shared by every `StreamingReply` and one-shot
post there; one hot conversation cannot hide behind a per-reply clock, and two scopes never wait
on each other.

`RateBudget` is a sliding-window limiter: at most `limit` calls in any `window_s` seconds,
counted from when each call *finished* (in-flight calls always count), which is conservative
whatever the platform's own clock and the call latency. A 429 pauses the whole scope until
`retry_after` has passed (`release(..., retry_after=...)`): the platform has said the scope is
spent.

Callers wait in a queue ordered by `Priority`, then arrival: final edits, placeholders and
approval cards (`FINAL`) go before streaming edits (`STREAM`). A waiting ticket can be promoted
when its reply is finishing. One pump task per budget hands out slots; it sleeps on the injected
clock until the next slot frees, so tests with a `FakeClock` are exact and instant.

A small hand-written limiter rather than a library: `aiolimiter` and `pyrate-limiter` read the
event loop's or the system's time and sleep with `asyncio.sleep`, and neither orders waiters by
priority; both are needed here.
"""

from __future__ import annotations

import asyncio
import itertools
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
    if scope is RateScope.WORKSPACE:
        return f"{ref.platform}:{ref.workspace_id}"
    if scope is RateScope.CHANNEL:
        return f"{ref.platform}:{ref.workspace_id}:{ref.channel_id}"
    return f"{ref.platform}:{ref.workspace_id}:{ref.channel_id}:{ref.thread_id or ''}"


_seq = itertools.count()


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


class RateBudget:
    """At most `limit` calls per `window_s` in one scope, handed out by priority."""

    def __init__(self, *, limit: int, window_s: float, clock: Clock) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate budget needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._slots: list[Ticket] = []
        self._waiting: list[Ticket] = []
        self._paused_until = float("-inf")
        self._changed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    @property
    def idle(self) -> bool:
        """No one waits and no call counts any more: the budget can be forgotten."""
        self._prune(self._clock.now())
        return not self._waiting and not self._slots and self._paused_until <= self._clock.now()

    async def acquire(self, ticket: Ticket) -> None:
        """Wait for a slot. Always `release` the ticket afterwards."""
        loop = asyncio.get_running_loop()
        ticket.granted = loop.create_future()
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

    def release(self, ticket: Ticket, *, retry_after: float | None = None) -> None:
        """The call is over; with `retry_after` it was refused with 429 and the scope pauses."""
        now = self._clock.now()
        if not ticket.released:
            ticket.released = True
            ticket.at = now
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._changed.set()

    def _prune(self, now: float) -> None:
        horizon = now - self.window_s
        self._slots = [s for s in self._slots if not s.released or s.at > horizon]

    def _free_at(self, now: float) -> float | None:
        """When the next slot is free: now or later, or None while only in-flight calls fill it."""
        self._prune(now)
        at = max(now, self._paused_until)
        if len(self._slots) < self.limit:
            return at
        done = sorted(s.at for s in self._slots if s.released)
        overflow = len(self._slots) - self.limit
        if overflow >= len(done):
            return None
        return max(at, done[overflow] + self.window_s)

    async def _run(self) -> None:
        while self._waiting:
            now = self._clock.now()
            free_at = self._free_at(now)
            if free_at is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            if free_at > now:
                await self._clock.sleep(free_at - now)
                continue
            ticket = min(self._waiting, key=lambda t: t.order)
            self._waiting.remove(ticket)
            assert ticket.granted is not None
            if ticket.granted.done():  # cancelled while queued
                continue
            ticket.at = now
            self._slots.append(ticket)
            ticket.granted.set_result(None)
