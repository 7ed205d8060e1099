"""One streamed answer on a platform: its messages grow by edits (or a native stream) and
always end final.

How this works
--------------
`start()` starts the reply's one flusher task and returns at once. `set_text()` only stores the
whole text so far (what may be shown of it: its stable part, redacted, `bot.redaction`; the
final message is redacted as a whole) and wakes the flusher; it never blocks and never queues, so the frames in
between two flushes are simply dropped (latest text wins). `set_status()` stores a status line
("Searching the knowledge base…") kept apart from the text. `finish()`/`fail()` store the final
message and wait for the flusher to write it.

The first post waits for the first text, up to `first_post_wait_s`, so that when several
answers start together each one's post already shows something, instead of "…" followed by an
edit that queues behind every other reply's edits. Meanwhile a typing indicator is shown where
the platform has one (`Capabilities.typing_interval_s`). If no text comes in time, a placeholder
is posted (the status line if there is one, else "…"). On a platform without a typing
indicator, a reply that starts alone (no other reply of the engine is waiting for its first
words) while its post and edit budgets are free posts the placeholder at once: the person sees
at once that they were heard, and the edit that follows queues behind no one. The first message of a reply goes through the event's `origin`
while its token is valid (Discord: the interaction follow-up that fulfils a deferred response),
and carries `reply_to` (a reply reference, where the core placed the answer as a reply).

The flusher then loops on a plan/act cycle, one platform call per turn:

1. plan from the *newest* state: the text not yet in earlier messages (`bot.delivery.layout`,
   which keeps the messages and what each holds); if it is over the limit, end the current
   message at a safe boundary (`splitting.cut`) and continue in a new one, else write it to the
   current message (with the status line under it while there is a status and no native way
   to show it);
2. wait until the current message was last written `min_edit_interval_s` ago;
3. take a slot in every budget of the call (`Budgets.slot`: post, edit or stream, at `FINAL`
   priority once finishing; a waiting ticket is promoted when `finish` arrives);
4. plan again (the text has usually grown meanwhile) and make the call; a plan whose kind of
   call changed gives the slot back and goes round again.

Failures feed the same loop, so every path ends in a final write:

- `RateLimited`: the call's budgets pause for `retry_after`; the next turn sends the newest
  text. After `max_consecutive_429` in a row the reply turns final-only (no more intermediate
  writes; the final still goes out).
- `MessageTooLong` (the platform is stricter than it declared, or the rendered citations pushed
  it over): the reply's limit shrinks below what was refused and the plan splits smaller.
- an error the platform says no retry can mend (`PlatformError.permanent`: a missing
  permission, a channel that is gone) ends the reply's writes at once, with one error log;
- any other error on an intermediate write is logged and, repeated, turns the reply final-only;
  on the final write it is retried, and after a few failures the current message is abandoned
  and the rest is posted as a new message. When even that keeps failing the reply gives up with
  an error log, and `finish()` still returns.

Text is treated as growing by appends; the final text may differ anywhere, in which case the
messages already ended are rewritten in place (and any left over marked as merged above).

Native streams (Slack chat.startStream, Teams streaminfo), where the adapter allows them for the
conversation's kind, grow by appends through the same budgets (op `stream`) and roll over like
edits (`bot.delivery.steps`). If a stream fails (not a 429), the edit path adopts the stream's
message, so the partial text is not left above a second copy; a stream that never named its
message is replaced by a new post.
"""

from __future__ import annotations

import asyncio
import dataclasses
from functools import partial

import structlog

from bot.adapter import (
    Adapter,
    NativeStatusStream,
    NativeStream,
    NativeStreaming,
    StatusIndicator,
    Typing,
)
from bot.capabilities import Op
from bot.clock import Clock
from bot.delivery.budget import Priority
from bot.delivery.budgets import Budgets, Waiting
from bot.delivery.layout import PLACEHOLDER, Layout
from bot.delivery.splitting import close_open_fence
from bot.delivery.steps import OPS, Kind, Step, native_step
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.events import Origin
from bot.messages import OutgoingMessage
from bot.redaction import NO_REDACTION, Redactor, StreamView
from bot.refs import ConversationRef, MessageHandle

log = structlog.get_logger(__name__)

FINAL_ATTEMPTS = 3
"""Failed final writes to one message before the rest is posted as a new message."""
GIVE_UP_AFTER = 12
"""Failed calls (429s included) in the final phase before the reply stops trying."""
MERGED_NOTE = "_(merged into the message above)_"


class StreamingReply:
    """One object per streamed answer; see the module docstring."""

    def __init__(
        self,
        *,
        adapter: Adapter,
        ref: ConversationRef,
        budgets: Budgets,
        clock: Clock,
        origin: Origin | None = None,
        reply_to: str = "",
        first_post_wait_s: float = 1.0,
        native: bool = False,
        max_consecutive_429: int = 3,
        starting: list[StreamingReply] | None = None,
        redactor: Redactor = NO_REDACTION,
    ) -> None:
        self._adapter = adapter
        self._redactor = redactor
        self._view = StreamView(redactor)
        self._starting = starting
        """The engine's replies still waiting for their first post (shared)."""
        self._ref = ref
        self._budgets = budgets
        self._clock = clock
        caps = adapter.capabilities
        self._origin = origin if origin is not None and origin.token else None
        self._reply_to = reply_to
        self._first_wait = first_post_wait_s
        deferred = self._origin is not None and self._origin.deferred
        self._native = (
            native
            and caps.streams_natively(ref.kind)
            and isinstance(adapter, NativeStreaming)
            and not deferred  # the deferred response is answered by a post through the origin
        )
        self._native_status = caps.native_status and isinstance(adapter, StatusIndicator)
        self._typing = caps.typing_interval_s if isinstance(adapter, Typing) else 0.0
        self._max_429 = max_consecutive_429
        self._layout = Layout(caps.max_chars, caps.min_edit_interval_s)
        self.handles = self._layout.handles
        """Every platform message this reply spans, in order."""
        self.rate_limited = 0
        """How many 429s this reply met (for metrics and benchmarks)."""
        self.first_text_at: float | None = None
        """Clock time the first words of the answer became visible (for metrics and logs)."""
        self.posts = 0
        self.edits = 0
        """Accepted posts (streams opened included) and edits (appends included)."""
        self._text = ""
        """What may be shown of the answer so far: its stable part, redacted."""
        self._raw = ""
        self._status = ""
        self._status_shown = ""
        self._final: OutgoingMessage | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._waiting = Waiting()
        self._final_only = False
        self._streak_429 = 0
        self._errors = 0
        self._final_failures = 0
        self._message_failures = 0
        self._final_done = False
        self._stopped = False
        """The platform refused for good (`PlatformError.permanent`): no more writes."""
        self._placeholder_due = False
        self._stream: NativeStream | None = None
        """The native stream writing the current message, once opened."""
        self._streamed = ""
        self.abandoned: list[MessageHandle] = []
        """Messages left as they were because the final edit to them kept failing."""

    @property
    def ref(self) -> ConversationRef:
        return self._ref

    @property
    def delivered(self) -> bool:
        """The final form has been written (or given up on): this reply will show nothing more."""
        return self._final is not None and self._task is not None and self._task.done()

    @property
    def final_only(self) -> bool:
        """True once repeated 429s stopped the intermediate edits."""
        return self._final_only

    # -- the public surface ------------------------------------------------------------------

    def start(self) -> None:
        """Start the flusher; the first post follows the first text (or a short wait)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def set_text(self, text: str) -> None:
        """The whole answer so far. Never blocks; only the newest text is ever sent."""
        if self._final is None and text != self._raw:
            # Redacted on the accumulated text, so a secret split across deltas is caught.
            self._raw = text
            self._text = self._view(text)
            self._wake.set()

    def set_status(self, text: str) -> None:
        """A status shown apart from the answer ("" clears it); never blocks."""
        if self._final is None and text != self._status:
            self._status = text
            self._wake.set()

    async def finish(self, message: OutgoingMessage) -> list[MessageHandle]:
        """Write `message` as the final form (split over messages as needed); always returns."""
        if self._final is None:
            text = self._redactor.redact(message.text_markdown)
            self._final = dataclasses.replace(message, text_markdown=text, final=True)
            self._waiting.promote()
            self._wake.set()
        self.start()
        assert self._task is not None
        await self._task
        return list(self.handles)

    async def fail(self, text: str) -> list[MessageHandle]:
        """End with a clear error below whatever partial answer was shown."""
        partial = close_open_fence(self._raw.rstrip())
        note = f"⚠️ {text}"
        return await self.finish(OutgoingMessage.text(f"{partial}\n\n{note}" if partial else note))

    # -- the flusher -------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._await_first_text()
            await self._loop()
            if self._final_done:
                await self._mark_leftovers()
        except Exception:
            log.exception("delivery.flusher_crashed", ref=self._ref.memory_key)
        finally:
            self._started_showing()

    async def _await_first_text(self) -> None:
        """Until there is text, a final, a status to post, or `first_post_wait_s` has passed;
        typing indicators meanwhile. Then the first post may go."""
        deadline = self._clock.now() + self._first_wait
        next_typing = self._clock.now()
        if self._starting is not None:
            self._starting.append(self)
        if self._alone():
            self._placeholder_due = True
            return
        await self._wait_for_first_text(deadline, next_typing)

    def _started_showing(self) -> None:
        """The reply's first words are visible (or it ended): it no longer counts as starting."""
        if self._starting is not None and self in self._starting:
            self._starting.remove(self)

    def _alone(self) -> bool:
        """Nothing to gain by waiting: no typing to show instead, no other reply whose first
        words are not visible yet, and both the post and the edit that follows would go at
        once."""
        return (
            not self._typing
            and not self._native
            and self._starting is not None
            and len(self._starting) == 1
            and not self._text.strip()
            and self._final is None
            and self._budgets.free(Op.POST, self._ref)
            and self._budgets.free(Op.EDIT, self._ref)
        )

    async def _wait_for_first_text(self, deadline: float, next_typing: float) -> None:
        while self._final is None and not self._text.strip():
            now = self._clock.now()
            if self._status and not self._shows_status_natively():
                break  # post it (or open the native stream that may show it)
            if self._status != self._status_shown and self._shows_status_natively():
                await self._write_status()
                continue
            if now >= deadline:
                self._placeholder_due = True
                return
            if self._typing and now >= next_typing:
                await self._type()
                next_typing = self._clock.now() + self._typing * 0.8
            wake_at = min(deadline, next_typing) if self._typing else deadline
            await self._wait_or_wake(wake_at - self._clock.now())
        self._placeholder_due = bool(self._status and not self._text.strip())

    async def _wait_or_wake(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        self._wake.clear()
        waiter = asyncio.ensure_future(self._wake.wait())
        timer = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait((waiter, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()

    async def _type(self) -> None:
        await self._one(Step(Kind.TYPING, "", OutgoingMessage.text(""), ""))

    def _shows_status_natively(self) -> bool:
        return self._native_status or isinstance(self._stream, NativeStatusStream)

    async def _write_status(self) -> None:
        await self._one(Step(Kind.STATUS, self._status, OutgoingMessage.text(""), ""))

    async def _one(self, step: Step) -> None:
        """Make one call outside the flusher's loop (while waiting for the first text)."""
        async with self._budgets.slot(OPS[step.kind], self._ref, Priority.STREAM) as slot:
            retry_after = await self._act(step)
            if retry_after is not None:
                slot.refused(retry_after)

    async def _idle(self) -> bool:
        """Wait for something to do; False means the reply is finished."""
        while True:
            if self._final is not None:
                return not self._final_done
            if not self._final_only and self._plan() is not None:
                return True
            self._wake.clear()
            await self._wake.wait()

    async def _loop(self) -> None:
        while await self._idle():
            step = self._plan()
            if step is None:
                continue
            if step.kind in (Kind.EDIT, Kind.APPEND):
                await self._sleep_until(self._layout.next_edit_at())
            # An answer's first words (and a new message: its next part) go ahead of other
            # replies' streaming edits; so does everything once the answer is final.
            first = self.first_text_at is None
            opens = step.kind in (Kind.POST, Kind.OPEN)
            urgent = self._final is not None or opens or first
            priority = Priority.FINAL if urgent else Priority.STREAM
            async with self._budgets.slot(
                OPS[step.kind], self._ref, priority, self._waiting
            ) as slot:
                planned, step = step, self._plan()  # the newest text, now that the slot is ours
                if (
                    step is None
                    or OPS[step.kind] is not OPS[planned.kind]
                    or (self._final_only and self._final is None)
                ):
                    slot.used = False
                    continue
                retry_after = await self._act(step)
                if retry_after is not None:
                    slot.refused(retry_after)
            if self._stopped:
                return
            if self._final is not None and self._final_failures >= GIVE_UP_AFTER:
                log.error(
                    "delivery.final_gave_up", ref=self._ref.memory_key, handles=len(self.handles)
                )
                return

    def _status_line(self, rest: str) -> str:
        """`rest` with the status under it, while it has one that is not shown natively."""
        if not self._status or self._shows_status_natively():
            return rest
        line = f"_{self._status}_"
        shown = f"{rest}\n\n{line}" if rest.strip() else line
        return shown if len(shown) <= self._layout.limit else rest

    def _plan(self) -> Step | None:
        """The next call to make from the newest state, or None when nothing is to be done."""
        final = self._final
        text = final.text_markdown if final is not None else self._text
        layout = self._layout
        if final is not None:
            layout.keep_or_rewind(text)
        if final is None and self._status != self._status_shown and self._shows_status_natively():
            return Step(Kind.STATUS, self._status, OutgoingMessage.text(""), text)
        layout.skip_written(text)
        if self._native and layout.posting:
            rest = layout.rest(text)
            if self._stream is None:
                wanted = rest.strip() or final or self._status or self._placeholder_due
                return Step(Kind.OPEN, "", OutgoingMessage.text(""), text) if wanted else None
            return native_step(text, rest, final, self._streamed, layout.reopen, layout.limit)
        return layout.plan(text, final, self._status_line, self._placeholder_due)

    def _first_message(self, message: OutgoingMessage) -> tuple[OutgoingMessage, Origin | None]:
        """The first post of the reply goes through the origin and carries the reply reference."""
        if self.handles or self._layout.index:
            return message, None
        origin = self._origin
        if origin is not None and not origin.token_valid(self._clock.now()):
            origin = None
        if self._reply_to:
            message = dataclasses.replace(message, reply_to=self._reply_to)
        return message, origin

    async def _act(self, step: Step) -> float | None:
        """Make one call; returns a 429's retry_after for the budgets."""
        try:
            await self._call(step)
        except RateLimited as exc:
            self.rate_limited += 1
            self._streak_429 += 1
            self._final_failures += self._final is not None
            if self._streak_429 >= self._max_429 and not self._final_only:
                if self._stream is not None:
                    self._leave_native("rate limited")
                else:
                    self._final_only = True
                    log.warning(
                        "delivery.final_only", ref=self._ref.memory_key, after_429=self._streak_429
                    )
            return exc.retry_after
        except MessageTooLong as exc:
            self._shrink(len(step.text), exc)
            return None
        except Exception as exc:
            if isinstance(exc, PlatformError) and exc.permanent:
                log.error(
                    "delivery.refused",
                    ref=self._ref.memory_key,
                    method=exc.method,
                    code=exc.code,
                    error=str(exc),
                )
                self._stopped = True  # nothing this reply writes here can succeed
                return None
            if step.kind in (Kind.OPEN, Kind.APPEND, Kind.FINISH):
                log.warning("delivery.native_fallback", ref=self._ref.memory_key, exc_info=True)
                self._leave_native("stream error")
            elif step.kind is Kind.STATUS:
                log.info("delivery.status_failed", ref=self._ref.memory_key, exc_info=True)
                self._native_status = False  # shown as a line from now on
                self._status_shown = step.text
            elif step.kind is Kind.TYPING:
                log.info("delivery.typing_failed", ref=self._ref.memory_key, exc_info=True)
                self._typing = 0.0
            else:
                self._failed(step)
            return None
        self._streak_429 = 0
        self._errors = 0
        self._message_failures = 0
        if step.kind is Kind.STATUS:
            self._status_shown = step.text
        if step.kind in (Kind.STATUS, Kind.TYPING, Kind.OPEN):
            return None
        if step.text.strip() not in ("", PLACEHOLDER):
            if self.first_text_at is None:
                self.first_text_at = self._clock.now()
            self._started_showing()
        if step.kind is Kind.APPEND:
            self._streamed = step.text
        self._layout.wrote(step, self._clock.now())
        if step.taken is None and step.done:
            self._final_done = True
        return None

    async def _call(self, step: Step) -> None:
        if step.kind is Kind.POST:
            message, origin = self._first_message(step.message)
            self.handles.append(await self._adapter.send(self._ref, message, origin=origin))
            self.posts += 1
        elif step.kind is Kind.EDIT:
            await self._adapter.edit(self._layout.current, step.message)
            self.edits += 1
        elif step.kind is Kind.OPEN:
            assert isinstance(self._adapter, NativeStreaming)
            stream = await self._adapter.open_native_stream(self._ref, self._origin)
            if stream is None:
                self._native = False
            else:
                self._stream, self._streamed = stream, ""
                self.posts += 1
        elif step.kind is Kind.APPEND:
            assert self._stream is not None
            await self._stream.append(step.message.text_markdown)
            self.edits += 1
        elif step.kind is Kind.FINISH:
            assert self._stream is not None
            self.handles.append(await self._stream.finish(step.message))
            self._stream, self._streamed = None, ""
            self.edits += 1
        elif step.kind is Kind.TYPING:
            assert isinstance(self._adapter, Typing)
            await self._adapter.typing(self._ref)
        elif isinstance(self._stream, NativeStatusStream):
            await self._stream.set_status(step.text)
        else:
            assert isinstance(self._adapter, StatusIndicator)
            await self._adapter.set_status(self._ref, step.text)

    def _leave_native(self, why: str) -> None:
        """Carry on with edits: adopt the stream's message when it has one."""
        log.info("delivery.native_left", ref=self._ref.memory_key, why=why)
        stream, self._stream, self._native = self._stream, None, False
        handle = stream.handle if stream is not None else None
        if handle is not None and handle.message_id:
            self._layout.adopt(handle, self._streamed, self._clock.now())
        self._streamed = ""
        self._streak_429 = 0

    def _shrink(self, length: int, exc: MessageTooLong) -> None:
        shrunk = self._layout.shrink(length, exc)
        log.info(
            "delivery.too_long", ref=self._ref.memory_key, length=length, limit=self._layout.limit
        )
        if not shrunk:  # cannot go smaller: count it as a failure
            self._count_error()

    def _count_error(self) -> None:
        if self._final is not None:
            self._final_failures += 1
            return
        self._errors += 1
        if self._errors >= self._max_429:
            self._final_only = True

    def _failed(self, step: Step) -> None:
        post = step.kind is Kind.POST
        log.warning("delivery.call_failed", ref=self._ref.memory_key, post=post, exc_info=True)
        self._layout.paced(self._clock.now())  # pace retries like edits
        self._count_error()
        self._message_failures += 1
        if self._final is not None and not post and self._message_failures >= FINAL_ATTEMPTS:
            # Last resort: leave this message as it is and post the rest as a new one.
            self.abandoned.append(self._layout.abandon())
            self._message_failures = 0

    async def _mark_leftovers(self) -> None:
        """After a rewrite that needed fewer messages, say so in the ones left over; a failed
        edit is tried again (paced like edits), up to `FINAL_ATTEMPTS` times."""
        note = OutgoingMessage.text(MERGED_NOTE)
        for handle in self._layout.leftovers():
            edit = partial(self._adapter.edit, handle, note)
            for attempt in range(1, FINAL_ATTEMPTS + 1):
                try:
                    await self._budgets.call(Op.EDIT, self._ref, edit, attempts=FINAL_ATTEMPTS)
                    break
                except Exception as exc:
                    if attempt == FINAL_ATTEMPTS or (
                        isinstance(exc, PlatformError) and exc.permanent
                    ):
                        log.warning(
                            "delivery.leftover_failed", ref=self._ref.memory_key, exc_info=True
                        )
                        break
                    await self._clock.sleep(self._adapter.capabilities.min_edit_interval_s)

    async def _sleep_until(self, deadline: float) -> None:
        delay = deadline - self._clock.now()
        if delay > 0:
            await self._clock.sleep(delay)
