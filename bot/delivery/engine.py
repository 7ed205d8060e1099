"""The delivery engine of one adapter: its rate budgets, streamed replies, one-shot posts and
private replies.

How this works
--------------
`Delivery` is created once per adapter and owns that adapter's `Budgets`: one `RateBudget` per
declared `RateLimit` and scope. Everything that writes to the platform draws from them: each
`StreamingReply` (`reply()`), the one-shot `post()` / `update()` used for approval cards and
command answers, and `private()` for answers only one person sees. One-shots go at `FINAL`
priority by default, ahead of streaming edits waiting in the same scope.

One-shots follow the same rules as replies: a 429 pauses the call's budgets for `retry_after`
and the call is retried; text over the platform's limit is split (`splitting.split_text`, fences
kept balanced) into several messages, citations and actions on the last; `MessageTooLong` from a
platform that is stricter than it declared shrinks the limit and splits again, so nothing is
lost. Other platform errors propagate to the caller: a one-shot has no later final edit to fall
back on.

A one-shot or reply may answer through an event's `Origin` (Discord: the interaction follow-up
that fulfils its deferred response) while the origin's token is valid; an expired origin falls
back to a normal post. Private replies always pass the origin: the adapter uses its token where
it can and an ephemeral message or DM otherwise.

An adapter that reports its platform's announced limits (`RateAnnouncer`) feeds `announce`.

Every text written goes through the engine's `Redactor` first (`bot.redaction`): one-shots and
private replies as a whole, streamed replies on their accumulated text (`StreamingReply`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol

from bot.adapter import Adapter, Announcement, RateAnnouncer
from bot.capabilities import Op
from bot.clock import Clock, MonotonicClock
from bot.delivery.budget import Priority
from bot.delivery.budgets import Budgets
from bot.delivery.layout import MIN_LIMIT
from bot.delivery.reply import StreamingReply
from bot.delivery.splitting import split_text
from bot.errors import MessageTooLong
from bot.events import Origin
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.redaction import NO_REDACTION, Redactor
from bot.refs import Author, ConversationRef, MessageHandle

log = get_logger(__name__)


class Sender(Protocol):
    """Who a private note goes to: what every event, command and question carries."""

    @property
    def ref(self) -> ConversationRef: ...
    @property
    def author(self) -> Author: ...
    @property
    def origin(self) -> Origin: ...


Write = Callable[[OutgoingMessage, bool], Awaitable[MessageHandle | None]]
"""Writes one part (the bool: it is the first) and returns its handle (None for private)."""


class Delivery:
    """One per adapter; see the module docstring."""

    def __init__(
        self,
        adapter: Adapter,
        *,
        clock: Clock | None = None,
        native_streaming: bool = False,
        max_consecutive_429: int = 3,
        first_post_wait_s: float = 1.0,
        redactor: Redactor = NO_REDACTION,
    ) -> None:
        self.adapter = adapter
        self.redactor = redactor
        """Applied to every text this engine writes (see bot.redaction)."""
        self.clock: Clock = clock or MonotonicClock()
        self.native_streaming = native_streaming
        self.max_consecutive_429 = max_consecutive_429
        self.first_post_wait_s = first_post_wait_s
        self.budgets = Budgets(adapter.capabilities.rate_limits, self.clock)
        self._starting: list[StreamingReply] = []
        """Every budget of this adapter, shared by every reply and one-shot."""
        if isinstance(adapter, RateAnnouncer):
            adapter.set_rate_listener(self.announce)

    def announce(self, announcement: Announcement) -> None:
        self.budgets.announce(announcement)

    def reply(
        self, ref: ConversationRef, *, origin: Origin | None = None, reply_to: str = ""
    ) -> StreamingReply:
        """A new streamed answer in `ref`; call `start()` on it (or just `finish()`)."""
        return StreamingReply(
            adapter=self.adapter,
            ref=ref,
            budgets=self.budgets,
            clock=self.clock,
            origin=origin,
            reply_to=reply_to,
            first_post_wait_s=self.first_post_wait_s,
            native=self.native_streaming,
            max_consecutive_429=self.max_consecutive_429,
            starting=self._starting,
            redactor=self.redactor,
        )

    async def post(
        self,
        ref: ConversationRef,
        message: OutgoingMessage,
        *,
        priority: bool = True,
        origin: Origin | None = None,
    ) -> MessageHandle:
        """Post `message` (split over several messages if long); returns the last one's handle,
        the one carrying any actions."""
        usable = origin if origin is not None and origin.token_valid(self.clock.now()) else None

        async def write(part: OutgoingMessage, first: bool) -> MessageHandle:
            return await self.adapter.send(ref, part, origin=usable if first else None)

        handles = await self._write(ref, Op.POST, message, priority, write)
        last = handles[-1]
        assert last is not None
        return last

    async def update(
        self, handle: MessageHandle, message: OutgoingMessage, *, priority: bool = True
    ) -> None:
        """Edit `handle` to show `message`; text that no longer fits continues in new messages."""

        async def write(part: OutgoingMessage, first: bool) -> MessageHandle:
            if not first:  # text that no longer fits the edited message continues below it
                return await self.adapter.send(handle.ref, part)
            await self.adapter.edit(handle, part)
            return handle

        await self._write(handle.ref, Op.EDIT, message, priority, write)

    async def private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        """Show `message` to `user_id` only, split if long, under the platform's budgets."""
        if origin.token and not origin.token_valid(self.clock.now()):
            origin = dataclasses.replace(origin, token="")  # expired: the adapter falls back

        async def write(part: OutgoingMessage, first: bool) -> None:
            await self.adapter.send_private(ref, user_id, part, origin=origin)

        await self._write(ref, Op.PRIVATE, message, True, write)

    async def tell(self, sender: Sender, message: OutgoingMessage | str) -> None:
        """A private note to whoever sent `sender` (an event, a command, a question). It never
        raises: the note is a courtesy beside what already happened, so a failure to deliver
        it is logged instead."""
        out = OutgoingMessage.text(message) if isinstance(message, str) else message
        try:
            await self.private(sender.ref, sender.author.id, out, origin=sender.origin)
        except Exception:
            log.exception("could not send a private note", conversation=sender.ref.memory_key)

    def _limit(self) -> int:
        return max(MIN_LIMIT, self.adapter.capabilities.max_chars)

    async def _write(
        self,
        ref: ConversationRef,
        op: Op,
        message: OutgoingMessage,
        priority: bool,
        write: Write,
    ) -> list[MessageHandle | None]:
        level = Priority.FINAL if priority else Priority.STREAM
        limit = self._limit()
        text = self.redactor.redact(message.text_markdown)
        done: list[MessageHandle | None] = []
        while True:
            parts = split_text(text, limit)
            part = parts[0]
            last = len(parts) == 1
            first = not done
            # Citations and actions go on the last part, the reply reference on the first.
            out = dataclasses.replace(
                message if last else OutgoingMessage.text(part.text),
                text_markdown=part.text,
                reply_to=message.reply_to if first else "",
            )
            # Later parts are new messages: posts, except that a private reply stays private.
            call_op = op if first or op is Op.PRIVATE else Op.POST
            try:
                done.append(
                    await self.budgets.call(
                        call_op, ref, partial(write, out, first), priority=level
                    )
                )
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
