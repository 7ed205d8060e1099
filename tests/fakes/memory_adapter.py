"""An in-memory Adapter that behaves like a strict platform: for delivery and core tests.

It records every call (accepted or refused) with the time on the injected clock, and ENFORCES
limits the way a platform does:

- `MessageTooLong` when the rendered message (text plus a citations block) is longer than
  `max_chars` (by default the declared `max_edit_chars`; set it lower to play a platform that is
  stricter than it declares);
- `RateLimited(retry_after)` when a call would exceed `edits_per_window` sends+edits in any
  `rate_window_s` in the call's rate scope (sliding window, like the engine's own budget), or,
  with `enforce_edit_interval`, when one message is edited sooner than `min_edit_interval_s`
  after its last write; and when a channel gets new messages faster than `post_burst` at once,
  then one per `post_interval_s` (when that is declared);
- scripted failures: `fail_next("edit", SomeError(), times=2)` makes the next two edits raise.

With `native=True` (and `capabilities.native_stream`), `open_native_stream` returns a
`MemoryNativeStream` that records appends and can be scripted to fail after N appends.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field

from bot.adapter import EventSink
from bot.capabilities import Capabilities, RateScope
from bot.clock import Clock, FakeClock
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef, MessageHandle

SLACK_LIKE = Capabilities(
    max_post_chars=3900,
    max_edit_chars=3900,
    min_edit_interval_s=1.0,
    rate_scope=RateScope.WORKSPACE,
    edits_per_window=50,
    rate_window_s=60.0,
)


def ref(
    channel: str = "C1", *, workspace: str = "T1", thread: str | None = None
) -> ConversationRef:
    return ConversationRef(
        platform="memory", workspace_id=workspace, channel_id=channel, thread_id=thread
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    at: float
    kind: str
    """"send", "edit", "append", "finish" or "send_private"."""
    ref: ConversationRef
    message_id: str
    """The message written ("" for a refused send)."""
    message: OutgoingMessage
    error: str = ""
    """The exception class name when the call was refused."""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def text(self) -> str:
        return self.message.text_markdown


def render(message: OutgoingMessage) -> str:
    """What the platform would show: the text, then one line per citation."""
    lines = [f"[{c.number}] {c.title} {c.source}" for c in message.citations]
    return message.text_markdown + ("\n\n" + "\n".join(lines) if lines else "")


class MemoryAdapter:
    name = "memory"

    def __init__(
        self,
        capabilities: Capabilities = SLACK_LIKE,
        *,
        clock: Clock | None = None,
        max_chars: int | None = None,
        enforce_rate: bool = True,
        enforce_edit_interval: bool = True,
        latency_s: float = 0.0,
        native: bool = False,
    ) -> None:
        self.capabilities = capabilities
        self.clock: Clock = clock or FakeClock()
        self.max_chars = max_chars if max_chars is not None else capabilities.max_edit_chars
        self.enforce_rate = enforce_rate
        self.enforce_edit_interval = enforce_edit_interval
        self.latency_s = latency_s
        self.native = native
        self.calls: list[Call] = []
        self.messages: dict[str, OutgoingMessage] = {}
        """Current content of every message, by id."""
        self.private: list[tuple[ConversationRef, str, OutgoingMessage]] = []
        self.streams: list[MemoryNativeStream] = []
        self._ids = itertools.count(1)
        self._window: dict[str, deque[float]] = defaultdict(deque)
        self._written: dict[str, float] = {}
        self._posts: dict[str, tuple[float, float]] = {}
        """Per channel: post tokens left, and when they were counted."""
        self._script: dict[str, list[BaseException]] = defaultdict(list)
        self.started = False

    # -- scripting and inspection -------------------------------------------------------------

    def fail_next(self, kind: str, error: BaseException, *, times: int = 1) -> None:
        """The next `times` calls of `kind` ("send", "edit", "append", "finish") raise `error`."""
        self._script[kind].extend([error] * times)

    def ok_calls(self, kind: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.ok and (kind is None or c.kind == kind)]

    def history(self, message_id: str) -> list[Call]:
        """Accepted writes to one message, oldest first."""
        return [c for c in self.ok_calls() if c.message_id == message_id]

    @property
    def rate_limited(self) -> int:
        return sum(c.error == "RateLimited" for c in self.calls)

    def scope(self, ref: ConversationRef) -> str:
        scope = self.capabilities.rate_scope
        parts = [ref.workspace_id]
        if scope in (RateScope.CHANNEL, RateScope.THREAD):
            parts.append(ref.channel_id)
        if scope is RateScope.THREAD:
            parts.append(ref.thread_id or "")
        return ":".join(parts)

    def _channel(self, ref: ConversationRef) -> str:
        return f"{ref.workspace_id}:{ref.channel_id}"

    def _post_tokens(self, ref: ConversationRef, now: float) -> float:
        """The channel's post token bucket now (unlimited when no post interval is declared)."""
        caps = self.capabilities
        if caps.post_interval_s <= 0:
            return float("inf")
        tokens, at = self._posts.get(self._channel(ref), (float(caps.post_burst), now))
        return min(float(caps.post_burst), tokens + (now - at) / caps.post_interval_s)

    # -- the Adapter protocol -----------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(self, ref: ConversationRef, message: OutgoingMessage) -> MessageHandle:
        await self._enter()
        message_id = f"m{next(self._ids)}"
        self._check("send", ref, "", message)
        self._record("send", ref, message_id, message)
        return MessageHandle(ref=ref, message_id=message_id)

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        await self._enter()
        if handle.message_id not in self.messages:
            self._refuse(
                "edit", handle.ref, handle.message_id, message, PlatformError("no such message")
            )
        self._check("edit", handle.ref, handle.message_id, message)
        self._record("edit", handle.ref, handle.message_id, message)

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, hint: str = ""
    ) -> None:
        self.private.append((ref, user_id, message))

    async def open_native_stream(self, ref: ConversationRef) -> MemoryNativeStream | None:
        if not self.native:
            return None
        stream = MemoryNativeStream(self, ref)
        self.streams.append(stream)
        return stream

    # -- enforcement --------------------------------------------------------------------------

    async def _enter(self) -> None:
        if self.latency_s:
            await self.clock.sleep(self.latency_s)
        else:
            await asyncio.sleep(0)

    def _refuse(
        self,
        kind: str,
        ref: ConversationRef,
        message_id: str,
        message: OutgoingMessage,
        error: BaseException,
    ) -> None:
        self.calls.append(
            Call(
                at=self.clock.now(),
                kind=kind,
                ref=ref,
                message_id=message_id,
                message=message,
                error=type(error).__name__,
            )
        )
        raise error

    def _check(
        self, kind: str, ref: ConversationRef, message_id: str, message: OutgoingMessage
    ) -> None:
        now = self.clock.now()
        script = self._script.get(kind)
        if script:
            self._refuse(kind, ref, message_id, message, script.pop(0))
        if self.enforce_rate:
            window = self._window[self.scope(ref)]
            while window and window[0] <= now - self.capabilities.rate_window_s:
                window.popleft()
            if len(window) >= self.capabilities.edits_per_window:
                retry = window[0] + self.capabilities.rate_window_s - now
                self._refuse(kind, ref, message_id, message, RateLimited(retry))
        if self.enforce_rate and kind == "send":
            tokens = self._post_tokens(ref, now)
            if tokens < 1.0 - 1e-9:
                retry = (1.0 - tokens) * self.capabilities.post_interval_s
                self._refuse(kind, ref, message_id, message, RateLimited(retry))
        if self.enforce_edit_interval and kind == "edit":
            last = self._written.get(message_id)
            if last is not None and now - last < self.capabilities.min_edit_interval_s - 1e-9:
                retry = last + self.capabilities.min_edit_interval_s - now
                self._refuse(kind, ref, message_id, message, RateLimited(retry))
        length = len(render(message))
        if length > self.max_chars:
            self._refuse(kind, ref, message_id, message, MessageTooLong(length, self.max_chars))

    def _record(
        self, kind: str, ref: ConversationRef, message_id: str, message: OutgoingMessage
    ) -> None:
        now = self.clock.now()
        self._window[self.scope(ref)].append(now)
        self._written[message_id] = now
        if kind == "send":
            self._posts[self._channel(ref)] = (self._post_tokens(ref, now) - 1.0, now)
        self.messages[message_id] = message
        self.calls.append(Call(at=now, kind=kind, ref=ref, message_id=message_id, message=message))


@dataclass
class MemoryNativeStream:
    """A native stream: appends accumulate into `text`; `finish` turns it into a message."""

    adapter: MemoryAdapter
    ref: ConversationRef
    text: str = ""
    appends: list[tuple[float, str]] = field(default_factory=list)
    finished: OutgoingMessage | None = None

    async def append(self, text: str) -> None:
        await self.adapter._enter()
        message = OutgoingMessage.text(text, final=False)
        self.adapter._check("append", self.ref, "", message)
        self.appends.append((self.adapter.clock.now(), text))
        self.text += text
        self.adapter._window[self.adapter.scope(self.ref)].append(self.adapter.clock.now())

    async def finish(self, message: OutgoingMessage) -> MessageHandle:
        await self.adapter._enter()
        self.adapter._check("finish", self.ref, "", OutgoingMessage.text(""))
        message_id = f"m{next(self.adapter._ids)}"
        self.finished = message
        self.adapter._record("finish", self.ref, message_id, message)
        return MessageHandle(ref=self.ref, message_id=message_id)
