"""The budgets one call draws from, and the one helper that makes a budgeted call.

How this works
--------------
`Budgets` holds one `RateBudget` per declared `RateLimit` and scope key, created on first use
and forgotten when idle once many are tracked. A call of kind `op` at `ref` falls under every
limit whose ops include `op`; `slot()` takes a ticket in each of them, narrowest scope first
(`SCOPE_ORDER`, then the shorter window), so every caller takes them in one global order (no
deadlock) and a slot in a wide budget (the workspace, the global limit) is not held while a
narrow one (the channel) makes the call wait. The slot is released in all of them when the call
is over: with a 429's `retry_after` every budget of the call pauses (the platform does not say
which of its counters was spent), and a slot the caller ended up not using is given back.

`call()` is the one place that runs "take a slot, call, release, wait out a 429 and retry":
one-shot posts and edits, private replies and placeholders all go through it. The streaming
reply's flusher uses `slot()` directly, because it plans its call again once the slot is its own.

What an adapter learns from its platform (`Announcement`) goes to the budgets of that op and
scope at that ref.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from bot.adapter import Announcement
from bot.capabilities import SCOPE_ORDER, Op, RateLimit
from bot.clock import Clock
from bot.delivery.budget import Priority, RateBudget, Ticket, scope_key
from bot.errors import RateLimited
from bot.refs import ConversationRef

T = TypeVar("T")

MAX_BUDGETS = 2048
"""Tracked budgets past which idle ones are dropped."""
CALL_429 = 8
"""429s one budgeted call waits out before raising RateLimited to its caller."""


class Slot:
    """Tickets in every budget of one call; say how the call went before it is released."""

    __slots__ = ("_held", "retry_after", "used")

    def __init__(self, held: list[tuple[RateBudget, Ticket]]) -> None:
        self._held = held
        self.retry_after: float | None = None
        """Set when the platform answered 429."""
        self.used = True
        """Set False when no call was made (the slot goes back)."""

    def refused(self, retry_after: float) -> None:
        self.retry_after = retry_after

    def _release(self) -> None:
        for budget, ticket in self._held:
            budget.release(ticket, retry_after=self.retry_after, used=self.used)


class Waiting:
    """A caller's tickets while it queues, so a finishing reply can move to the front."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: list[tuple[RateBudget, Ticket]] = []

    def promote(self) -> None:
        for budget, ticket in self._held:
            if not ticket.released:
                budget.promote(ticket)


class Budgets:
    def __init__(self, limits: Sequence[RateLimit], clock: Clock) -> None:
        order = {scope: rank for rank, scope in enumerate(SCOPE_ORDER)}
        self._limits = sorted(limits, key=lambda limit: (order[limit.scope], limit.window_s))
        self._clock = clock
        self._budgets: dict[tuple[int, str], RateBudget] = {}

    def of(self, op: Op, ref: ConversationRef) -> list[RateBudget]:
        """The budgets a call of `op` at `ref` takes, in the order it takes them."""
        found: list[RateBudget] = []
        for index, limit in enumerate(self._limits):
            if op in limit.ops:
                found.append(self._budget(index, limit, scope_key(ref, limit.scope)))
        return found

    def _budget(self, index: int, limit: RateLimit, key: str) -> RateBudget:
        budget = self._budgets.get((index, key))
        if budget is None:
            if len(self._budgets) >= MAX_BUDGETS:
                self._budgets = {k: b for k, b in self._budgets.items() if not b.idle}
            budget = RateBudget(
                limit=limit.calls, window_s=limit.window_s, clock=self._clock, burst=limit.burst
            )
            self._budgets[(index, key)] = budget
        return budget

    def free(self, op: Op, ref: ConversationRef) -> bool:
        """A call of `op` at `ref` would go at once, behind no one."""
        return all(budget.free for budget in self.of(op, ref))

    @asynccontextmanager
    async def slot(
        self,
        op: Op,
        ref: ConversationRef,
        priority: Priority,
        waiting: Waiting | None = None,
    ) -> AsyncIterator[Slot]:
        """Hold a slot in every budget of the call for the length of the `async with`."""
        held = waiting._held if waiting is not None else []
        held.clear()
        try:
            for budget in self.of(op, ref):
                ticket = Ticket(priority)
                held.append((budget, ticket))
                await budget.acquire(ticket)
        except BaseException:
            held.pop()  # the ticket that was being acquired released itself if it was granted
            for budget, ticket in held:
                budget.release(ticket, used=False)
            held.clear()
            raise
        slot = Slot(list(held))
        held.clear()
        try:
            yield slot
        finally:
            slot._release()

    async def call(
        self,
        op: Op,
        ref: ConversationRef,
        fn: Callable[[], Awaitable[T]],
        *,
        priority: Priority = Priority.FINAL,
        attempts: int = CALL_429,
        on_429: Callable[[], None] | None = None,
    ) -> T:
        """Make `fn` under the budgets of `op` at `ref`; wait out up to `attempts` 429s."""
        for _ in range(attempts):
            async with self.slot(op, ref, priority) as slot:
                try:
                    return await fn()
                except RateLimited as exc:
                    slot.refused(exc.retry_after)
                    if on_429 is not None:
                        on_429()
        raise RateLimited(0.0, method=f"delivery:{op.value}")

    def announce(self, announcement: Announcement) -> None:
        """Tighten the budgets the platform told about."""
        for index, limit in enumerate(self._limits):
            if announcement.op in limit.ops and limit.scope is announcement.scope:
                key = scope_key(announcement.ref, limit.scope)
                self._budget(index, limit, key).announce(
                    announcement.remaining, announcement.reset_after_s
                )
