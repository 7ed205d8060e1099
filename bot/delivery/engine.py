"""The delivery engine of one adapter: its shared rate budgets, streamed replies and one-shot posts.

How this works
--------------
`Delivery` is created once per adapter and owns that adapter's `RateBudget`s, one per rate scope
(`Capabilities.rate_scope` turns a ConversationRef into a scope key). Everything that writes to
the platform draws from them: each `StreamingReply` (`reply()`), and the one-shot `post()` /
`update()` used for approval cards and command answers. One-shots go at `FINAL` priority by
default, ahead of streaming edits waiting in the same scope. Every new message (placeholder,
rollover or one-shot) also waits for its channel's turn in the engine's `PostPacer` when the
platform paces posts per channel (`Capabilities.post_interval_s`).

One-shots follow the same rules as replies: a 429 pauses the scope for `retry_after` and the call
is retried; text over the platform's limit is split (`splitting.split_text`, fences kept balanced)
into several messages, citations and buttons on the last; `MessageTooLong` from a platform that is
stricter than it declared shrinks the limit and splits again, so nothing is lost. Other platform
errors propagate to the caller: a one-shot has no later final edit to fall back on.

Idle budgets are forgotten once the engine tracks many scopes, so memory stays bounded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from functools import partial
from typing import TypeVar

from bot.adapter import Adapter
from bot.clock import Clock, MonotonicClock
from bot.delivery.budget import Priority, RateBudget, Ticket, scope_key
from bot.delivery.pacing import PostPacer
from bot.delivery.reply import MIN_LIMIT, StreamingReply
from bot.delivery.splitting import split_text
from bot.errors import MessageTooLong, RateLimited
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

T = TypeVar("T")

MAX_SCOPES = 1024
"""Tracked scopes past which idle budgets are dropped."""
ONE_SHOT_429 = 8
"""429s one post/update call waits out before raising RateLimited to its caller."""


class Delivery:
    """One per adapter; see the module docstring."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        clock: Clock | None = None,
        native_streaming: bool = False,
        max_consecutive_429: int = 3,
    ) -> None:
        self.adapter = adapter
        self.clock: Clock = clock or MonotonicClock()
        self.native_streaming = native_streaming
        self.max_consecutive_429 = max_consecutive_429
        self._budgets: dict[str, RateBudget] = {}
        caps = adapter.capabilities
        self.pacer = PostPacer(
            interval_s=caps.post_interval_s, burst=caps.post_burst, clock=self.clock
        )
        """New messages per channel, shared by every reply and one-shot post."""

    def budget(self, ref: ConversationRef) -> RateBudget:
        """The shared budget of `ref`'s rate scope."""
        caps = self.adapter.capabilities
        key = scope_key(ref, caps.rate_scope)
        found = self._budgets.get(key)
        if found is None:
            if len(self._budgets) >= MAX_SCOPES:
                self._budgets = {k: b for k, b in self._budgets.items() if not b.idle}
            found = RateBudget(
                limit=caps.edits_per_window, window_s=caps.rate_window_s, clock=self.clock
            )
            self._budgets[key] = found
        return found

    def reply(self, ref: ConversationRef, *, placeholder: str = "…") -> StreamingReply:
        """A new streamed answer in `ref`; call `start()` on it to post the placeholder."""
        return StreamingReply(
            adapter=self.adapter,
            ref=ref,
            budget=self.budget(ref),
            pacer=self.pacer,
            clock=self.clock,
            placeholder=placeholder,
            native=self.native_streaming,
            max_consecutive_429=self.max_consecutive_429,
        )

    async def post(
        self, ref: ConversationRef, message: OutgoingMessage, *, priority: bool = True
    ) -> MessageHandle:
        """Post `message` (split over several messages if long); returns the last one's handle,
        the one carrying any buttons."""
        handles = await self._write(ref, None, message, priority)
        return handles[-1]

    async def update(
        self, handle: MessageHandle, message: OutgoingMessage, *, priority: bool = True
    ) -> None:
        """Edit `handle` to show `message`; text that no longer fits continues in new messages."""
        await self._write(handle.ref, handle, message, priority)

    def _limit(self) -> int:
        caps = self.adapter.capabilities
        return max(MIN_LIMIT, min(caps.max_post_chars, caps.max_edit_chars))

    async def _write(
        self,
        ref: ConversationRef,
        handle: MessageHandle | None,
        message: OutgoingMessage,
        priority: bool,
    ) -> list[MessageHandle]:
        level = Priority.FINAL if priority else Priority.STREAM
        limit = self._limit()
        text = message.text_markdown
        done: list[MessageHandle] = []
        while True:
            parts = split_text(text, limit)
            part = parts[0]
            last = len(parts) == 1
            out = (
                dataclasses.replace(message, text_markdown=part.text)
                if last
                else OutgoingMessage.text(part.text)
            )
            target = handle if not done else None
            try:
                if target is not None:
                    await self._call(ref, level, partial(self.adapter.edit, target, out))
                    done.append(target)
                else:
                    send = partial(self.adapter.send, ref, out)
                    done.append(await self._call(ref, level, send, post=True))
            except MessageTooLong as exc:
                smaller = exc.limit if exc.limit is not None and exc.limit < len(part.text) else 0
                smaller = smaller or int(len(part.text) * 0.8)
                if limit <= MIN_LIMIT:
                    raise
                limit = max(MIN_LIMIT, min(limit, smaller))
                continue
            if last:
                return done
            text = parts[1].reopen + text[len(part.body) :]

    async def _call(
        self,
        ref: ConversationRef,
        level: Priority,
        call: Callable[[], Awaitable[T]],
        *,
        post: bool = False,
    ) -> T:
        budget = self.budget(ref)
        for _ in range(ONE_SHOT_429):
            async with self.pacer.turn(ref) if post else nullcontext():
                ticket = Ticket(level)
                await budget.acquire(ticket)
                try:
                    result = await call()
                except RateLimited as exc:
                    budget.release(ticket, retry_after=exc.retry_after)
                    continue
                except BaseException:
                    budget.release(ticket)
                    raise
                budget.release(ticket)
                return result
        raise RateLimited(0.0, method="delivery")
