"""One streamed answer on a platform: a placeholder that grows by edits and always ends final.

How this works
--------------
`start()` posts the placeholder and starts the reply's one flusher task. `set_text()` only
stores the whole text so far and wakes the flusher; it never blocks and never queues, so the
frames in between two flushes are simply dropped (latest text wins). `finish()`/`fail()` store
the final message and wait for the flusher to write it.

The flusher loops on a plan/act cycle, one platform call per turn:

1. plan from the *newest* state: the text not yet in earlier messages is
   `reopen + text[consumed:]`; if it is over the limit, end the current message at a safe
   boundary (`splitting.cut`) and continue in a new one, else edit the current message with it;
2. wait until the current message was last written `min_edit_interval_s` ago, or, for a new
   message, for the channel's turn in the engine's `PostPacer`;
3. take a slot from the scope's shared `RateBudget` (`FINAL` priority once finishing; a waiting
   streaming ticket is promoted when `finish` arrives);
4. plan again (the text has usually grown meanwhile) and make the call; a plan that now posts
   when it did not have the channel's turn goes back to 2.

Failures feed the same loop, so every path ends in a final write:

- `RateLimited`: the scope's budget pauses for `retry_after`; the next turn sends the newest
  text. After `max_consecutive_429` in a row the reply turns final-only (no more intermediate
  edits; the final still goes out).
- `MessageTooLong` (the platform is stricter than declared, or the rendered citations pushed it
  over): the reply's limit shrinks below what was refused and the plan splits smaller.
- any other error on an intermediate edit is logged and, repeated, turns the reply final-only;
  on the final write it is retried, and after a few failures the current message is abandoned
  and the rest is posted as a new message. When even that keeps failing the reply gives up with
  an error log, and `finish()` still returns.

Text is treated as growing by appends; the final text may differ anywhere, in which case the
messages already ended are rewritten in place (and any left over marked as merged above).

Native streams (Slack chat.startStream, Teams streaminfo): with `native` on, the flusher appends
the new part of the text to the platform stream at the same pace and budget, then `finish`es it
with the final message; any stream error (not a 429) falls back to the edit path, which posts the
whole text, so nothing is lost. In that mode `start()` has no message yet: it returns a handle
with an empty `message_id`, and the real handles are in `handles` after `finish()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from contextlib import nullcontext
from dataclasses import dataclass

import structlog

from bot.adapter import Adapter, NativeStream, NativeStreaming
from bot.capabilities import Capabilities
from bot.clock import Clock
from bot.delivery.budget import Priority, RateBudget, Ticket
from bot.delivery.pacing import PostPacer
from bot.delivery.splitting import close_open_fence, cut
from bot.errors import MessageTooLong, RateLimited
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

log = structlog.get_logger(__name__)

MIN_LIMIT = 40
"""The smallest part size a shrinking limit goes down to (room for a fence and some text)."""
FINAL_ATTEMPTS = 3
"""Failed final writes to one message before the rest is posted as a new message."""
GIVE_UP_AFTER = 12
"""Failed calls (429s included) in the final phase before the reply stops trying."""
MERGED_NOTE = "_(merged into the message above)_"


@dataclass(frozen=True, slots=True)
class _Step:
    text: str
    """What the target message will show."""
    message: OutgoingMessage
    post: bool
    """Post a new message (True) or edit the current one."""
    source: str
    """The whole text this step was planned from."""
    taken: int | None = None
    """Set when this step ends the current message: the input consumed by it."""
    reopen: str = ""
    done: bool = False
    """The step writes the final form of the last message."""


class StreamingReply:
    """One object per streamed answer; see the module docstring."""

    def __init__(
        self,
        *,
        adapter: Adapter,
        ref: ConversationRef,
        budget: RateBudget,
        pacer: PostPacer,
        clock: Clock,
        placeholder: str = "…",
        native: bool = False,
        max_consecutive_429: int = 3,
    ) -> None:
        self._adapter = adapter
        self._ref = ref
        self._budget = budget
        self._pacer = pacer
        self._clock = clock
        self._placeholder = placeholder
        self._native_wanted = native
        self._max_429 = max_consecutive_429
        caps: Capabilities = adapter.capabilities
        self._interval = caps.min_edit_interval_s
        self._limit = max(MIN_LIMIT, min(caps.max_edit_chars, caps.max_post_chars))
        self.handles: list[MessageHandle] = []
        """Every platform message this reply spans, in order."""
        self.rate_limited = 0
        """How many 429s this reply met (for metrics and benchmarks)."""
        self._text = ""
        self._final: OutgoingMessage | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started: MessageHandle | None = None
        self._ticket: Ticket | None = None
        self._final_only = False
        self._streak_429 = 0
        self._errors = 0
        self._final_failures = 0
        self._message_failures = 0
        self._final_done = False
        # Rollover state: messages before `_index` are ended and hold `_frozen`.
        self._index = 0
        self._consumed = 0
        self._frozen = ""
        self._reopen = ""
        self._shown: str | None = None
        self._written: dict[str, float] = {}
        self.abandoned: list[MessageHandle] = []
        """Messages left as they were because the final edit to them kept failing."""

    @property
    def delivered(self) -> bool:
        """The final form has been written (or given up on): this reply will show nothing more."""
        return self._final is not None and self._task is not None and self._task.done()

    @property
    def final_only(self) -> bool:
        """True once repeated 429s stopped the intermediate edits."""
        return self._final_only

    # -- the public surface ------------------------------------------------------------------

    async def start(self) -> MessageHandle:
        """Post the placeholder now (or open the native stream) and start the flusher."""
        if self._started is not None:
            return self._started
        stream = await self._open_native() if self._native_wanted else None
        if stream is not None:
            self._started = MessageHandle(ref=self._ref, message_id="")
        else:
            self._started = await self._post_placeholder()
        self._task = asyncio.get_running_loop().create_task(self._run(stream))
        return self._started

    def set_text(self, text: str) -> None:
        """The whole answer so far. Never blocks; only the newest text is ever sent."""
        if self._final is None:
            self._text = text
            self._wake.set()

    async def finish(self, message: OutgoingMessage) -> list[MessageHandle]:
        """Write `message` as the final form (split over messages as needed); always returns."""
        if self._final is None:
            self._final = dataclasses.replace(message, final=True)
            if self._ticket is not None:
                self._budget.promote(self._ticket)
            self._wake.set()
        if self._started is None:  # finished before it started: post the final directly
            self._started = MessageHandle(ref=self._ref, message_id="")
            self._task = asyncio.get_running_loop().create_task(self._run(None))
        assert self._task is not None
        await self._task
        return list(self.handles)

    async def fail(self, text: str) -> list[MessageHandle]:
        """End with a clear error below whatever partial answer was shown."""
        partial = close_open_fence(self._text.rstrip())
        note = f"⚠️ {text}"
        return await self.finish(OutgoingMessage.text(f"{partial}\n\n{note}" if partial else note))

    # -- start -------------------------------------------------------------------------------

    async def _open_native(self) -> NativeStream | None:
        if not (
            self._adapter.capabilities.native_stream and isinstance(self._adapter, NativeStreaming)
        ):
            return None
        try:
            return await self._adapter.open_native_stream(self._ref)
        except Exception:
            log.warning("delivery.native_open_failed", ref=self._ref.memory_key, exc_info=True)
            return None

    async def _post_placeholder(self) -> MessageHandle:
        message = OutgoingMessage.text(self._placeholder, final=False)
        for attempt in range(self._max_429 + 3):
            async with self._pacer.turn(self._ref):
                ticket = Ticket(Priority.FINAL)
                await self._budget.acquire(ticket)
                try:
                    handle = await self._adapter.send(self._ref, message)
                except RateLimited as exc:
                    self.rate_limited += 1
                    self._budget.release(ticket, retry_after=exc.retry_after)
                    continue
                except Exception:
                    self._budget.release(ticket)
                    if attempt >= 2:
                        raise
                    continue
                self._budget.release(ticket)
            self.handles.append(handle)
            self._shown = self._placeholder
            self._written[handle.message_id] = self._clock.now()
            return handle
        raise RateLimited(0.0, method="send")

    # -- the flusher -------------------------------------------------------------------------

    async def _run(self, stream: NativeStream | None) -> None:
        try:
            if stream is not None and await self._run_native(stream):
                return
            await self._run_edits()
            if self._final_done:
                await self._mark_leftovers()
        except Exception:
            log.exception("delivery.flusher_crashed", ref=self._ref.memory_key)

    async def _idle(self) -> bool:
        """Wait for something to do; False means the reply is finished."""
        while True:
            if self._final is not None:
                return not self._final_done
            if not self._final_only and self._plan() is not None:
                return True
            self._wake.clear()
            await self._wake.wait()

    async def _run_edits(self) -> None:
        while await self._idle():
            step = self._plan()
            if step is None:
                continue
            post = step.post
            if not post:
                await self._sleep_until(self._written.get(self._current_id(), 0.0) + self._interval)
            async with self._pacer.turn(self._ref) if post else nullcontext():
                self._ticket = Ticket(
                    Priority.FINAL if self._final is not None else Priority.STREAM
                )
                await self._budget.acquire(self._ticket)
                ticket, self._ticket = self._ticket, None
                step = self._plan()  # the newest text, now that the slot is ours
                if (
                    step is None
                    or (step.post and not post)
                    or (self._final_only and self._final is None)
                ):
                    self._budget.release(ticket)
                    continue
                retry_after = await self._act(step)
                self._budget.release(ticket, retry_after=retry_after)
            if self._final is not None and self._final_failures >= GIVE_UP_AFTER:
                log.error(
                    "delivery.final_gave_up", ref=self._ref.memory_key, handles=len(self.handles)
                )
                return

    def _current_id(self) -> str:
        return self.handles[self._index].message_id if self._index < len(self.handles) else ""

    def _plan(self) -> _Step | None:
        """The next call to make from the newest state, or None when nothing is to be done."""
        final = self._final
        text = final.text_markdown if final is not None else self._text
        if final is not None and not text.startswith(self._frozen):
            # The final text changed what earlier messages hold: rewrite them in place.
            self._index, self._consumed, self._frozen, self._reopen = 0, 0, "", ""
            self._shown = None
        rest = self._reopen + text[self._consumed :]
        post = self._index >= len(self.handles)
        if len(rest) > self._limit:
            piece = cut(rest, self._limit, keep=len(self._reopen))
            message = OutgoingMessage.text(piece.head, final=True)
            if not post and self._shown == piece.head:
                self._advance(text, piece.taken, piece.reopen)
                return self._plan()
            return _Step(piece.head, message, post, text, piece.taken, piece.reopen)
        if final is not None:
            message = dataclasses.replace(final, text_markdown=rest)
            return _Step(rest, message, post, text, done=True)
        if not text.strip() or (rest == self._shown and not post):
            return None
        return _Step(rest, OutgoingMessage.text(rest, final=False), post, text)

    def _advance(self, text: str, taken: int, reopen: str) -> None:
        self._consumed += taken - len(self._reopen)
        self._frozen = text[: self._consumed]
        self._reopen = reopen
        self._index += 1
        self._shown = None

    async def _act(self, step: _Step) -> float | None:
        """Make one call; returns a 429's retry_after for the budget."""
        try:
            if step.post:
                handle = await self._adapter.send(self._ref, step.message)
                self.handles.append(handle)
            else:
                await self._adapter.edit(self.handles[self._index], step.message)
        except RateLimited as exc:
            self.rate_limited += 1
            self._streak_429 += 1
            self._final_failures += self._final is not None
            if self._streak_429 >= self._max_429 and not self._final_only:
                self._final_only = True
                log.warning(
                    "delivery.final_only", ref=self._ref.memory_key, after_429=self._streak_429
                )
            return exc.retry_after
        except MessageTooLong as exc:
            self._shrink(len(step.text), exc)
            return None
        except Exception:
            self._failed(step)
            return None
        self._streak_429 = 0
        self._errors = 0
        self._message_failures = 0
        self._written[self.handles[self._index].message_id] = self._clock.now()
        self._shown = step.text
        if step.taken is not None:
            self._advance(step.source, step.taken, step.reopen)
        elif step.done:
            self._final_done = True
        return None

    def _shrink(self, length: int, exc: MessageTooLong) -> None:
        target = exc.limit if exc.limit is not None and exc.limit < length else int(length * 0.8)
        new = max(MIN_LIMIT, min(self._limit, target))
        log.info("delivery.too_long", ref=self._ref.memory_key, length=length, limit=new)
        if new == self._limit:  # cannot go smaller: count it as a failure
            self._count_error()
        self._limit = new

    def _count_error(self) -> None:
        if self._final is not None:
            self._final_failures += 1
            return
        self._errors += 1
        if self._errors >= self._max_429:
            self._final_only = True

    def _failed(self, step: _Step) -> None:
        log.warning("delivery.call_failed", ref=self._ref.memory_key, post=step.post, exc_info=True)
        self._written[self._current_id()] = self._clock.now()  # pace retries like edits
        self._count_error()
        self._message_failures += 1
        if self._final is not None and not step.post and self._message_failures >= FINAL_ATTEMPTS:
            # Last resort: leave this message as it is and post the rest as a new one.
            self.abandoned.append(self.handles.pop(self._index))
            self._shown = None
            self._message_failures = 0

    async def _mark_leftovers(self) -> None:
        """After a rewrite that needed fewer messages, say so in the ones left over."""
        for handle in self.handles[self._index + 1 :]:
            for _ in range(FINAL_ATTEMPTS):
                ticket = Ticket(Priority.FINAL)
                await self._budget.acquire(ticket)
                retry_after: float | None = None
                try:
                    await self._adapter.edit(handle, OutgoingMessage.text(MERGED_NOTE))
                    break
                except RateLimited as exc:
                    retry_after = exc.retry_after
                except Exception:
                    log.warning("delivery.leftover_failed", ref=self._ref.memory_key, exc_info=True)
                finally:
                    self._budget.release(ticket, retry_after=retry_after)

    async def _sleep_until(self, deadline: float) -> None:
        delay = deadline - self._clock.now()
        if delay > 0:
            await self._clock.sleep(delay)

    # -- native streams ----------------------------------------------------------------------

    async def _run_native(self, stream: NativeStream) -> bool:
        """Stream natively; True when finished there, False to fall back to edits."""
        sent = ""
        last = float("-inf")
        streak = 0
        while True:
            while self._final is None and (self._text == sent or not self._text.startswith(sent)):
                self._wake.clear()
                await self._wake.wait()
            await self._sleep_until(last + self._interval)
            ticket = Ticket(Priority.FINAL if self._final is not None else Priority.STREAM)
            self._ticket = ticket
            await self._budget.acquire(ticket)
            self._ticket = None
            final = self._final
            text = final.text_markdown if final is not None else self._text
            retry_after: float | None = None
            try:
                if text.startswith(sent) and text != sent:
                    await stream.append(text[len(sent) :])
                    sent, streak = text, 0
                elif final is not None:
                    self.handles.append(await stream.finish(final))
                    self._final_done = True
                    return True
            except RateLimited as exc:
                self.rate_limited += 1
                retry_after = exc.retry_after
                streak += 1
                if streak >= self._max_429:
                    log.warning("delivery.native_rate_limited", ref=self._ref.memory_key)
                    return False
            except Exception:
                log.warning("delivery.native_fallback", ref=self._ref.memory_key, exc_info=True)
                return False
            finally:
                last = self._clock.now()
                self._budget.release(ticket, retry_after=retry_after)
