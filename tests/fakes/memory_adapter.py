"""An in-memory Adapter that behaves like a strict platform: for delivery and core tests.

It records every call (accepted or refused) with the time on the injected clock, and ENFORCES
limits the way a platform does:

- `MessageTooLong` when the rendered message (text plus a citations block) is longer than
  `max_chars` (by default the declared `max_edit_chars`; set it lower to play a platform that is
  stricter than it declares);
- `RateLimited(retry_after)` when a call would exceed any declared `RateLimit` it falls under
  (sliding window per scope, or a token bucket for a limit with a `burst`, counted like the
  platform counts: from the call's arrival), or,
  with `enforce_edit_interval`, when one message is edited sooner than `min_edit_interval_s`
  after its last write;
- interactions: a write through an origin with a token is refused (`PlatformError`) once the
  token has expired on the fake's clock (`token_ttl_s` from `issued_at`), as Discord refuses an
  interaction token after 15 minutes; `origin_posts` records the writes that used one;
- native streams only where `capabilities.native_stream` allows the conversation's kind, and a
  native status line (`set_status`) only where `capabilities.native_status`;
- scripted failures: `fail_next("edit", SomeError(), times=2)` makes the next two edits raise.

Presets: `SLACK_LIKE`, `DISCORD_LIKE` (2,000 chars; 5 posts+edits per 5 s per channel; 50 calls
per second globally; replies as message replies; clicks answered synchronously) and `TEAMS_LIKE`
(28 KB; 7 / 1 s, 60 / 30 s and 1,800 / h per thread; native streams in 1:1 chats only; clicks
answered synchronously with a refreshed card).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from dataclasses import dataclass, field

from bot.adapter import EventSink
from bot.capabilities import ALL_OPS, WRITES, Capabilities, Op, Placement, RateLimit, RateScope
from bot.clock import Clock, FakeClock
from bot.delivery.budget import scope_key
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.events import Origin
from bot.messages import OutgoingMessage
from bot.refs import ConversationKind, ConversationRef, MessageHandle


def limit(
    ops: frozenset[Op], scope: RateScope, calls: int, window_s: float, burst: int | None = None
) -> RateLimit:
    return RateLimit(
        ops=ops,
        scope=scope,
        calls=calls,
        window_s=window_s,
        name=f"{calls}/{window_s}" + (f" burst {burst}" if burst else ""),
        burst=burst,
    )


SLACK_LIKE = Capabilities(
    max_post_chars=3900,
    max_edit_chars=3900,
    min_edit_interval_s=1.0,
    rate_limits=(
        limit(frozenset({Op.EDIT}), RateScope.WORKSPACE, 50, 60.0),
        limit(frozenset({Op.POST}), RateScope.CHANNEL, 1, 1.0, burst=3),
    ),
    channel_reply=Placement.THREAD,
    ephemeral=True,
)
DISCORD_LIKE = Capabilities(
    max_post_chars=2000,
    max_edit_chars=2000,
    min_edit_interval_s=1.0,
    rate_limits=(
        limit(frozenset({Op.POST, Op.EDIT}), RateScope.CHANNEL, 5, 5.0),
        limit(ALL_OPS, RateScope.GLOBAL, 50, 1.0),
    ),
    typing_interval_s=10.0,
    ephemeral=True,
    action_response=True,
    channel_reply=Placement.REPLY,
)
TEAMS_LIKE = Capabilities(
    max_post_chars=28_000,
    max_edit_chars=28_000,
    min_edit_interval_s=1.0,
    rate_limits=(
        limit(WRITES | {Op.TYPING}, RateScope.THREAD, 7, 1.0),
        limit(WRITES | {Op.TYPING}, RateScope.THREAD, 60, 30.0),
        limit(WRITES | {Op.TYPING}, RateScope.THREAD, 1800, 3600.0),
    ),
    native_stream=frozenset({ConversationKind.DIRECT}),
    action_response=True,
    channel_reply=Placement.THREAD,
)
KINDS = {"send": Op.POST, "edit": Op.EDIT, "append": Op.STREAM, "finish": Op.STREAM}


def ref(
    channel: str = "C1",
    *,
    workspace: str = "T1",
    thread: str | None = None,
    kind: ConversationKind | None = None,
) -> ConversationRef:
    return ConversationRef(
        platform="memory",
        workspace_id=workspace,
        channel_id=channel,
        thread_id=thread,
        kind=kind or (ConversationKind.THREAD if thread else ConversationKind.CHANNEL),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    at: float
    kind: str
    """"send", "edit", "append", "finish", "open", "typing", "status" or "send_private"."""
    ref: ConversationRef
    message_id: str
    """The message written ("" for a refused send)."""
    message: OutgoingMessage
    error: str = ""
    """The exception class name when the call was refused."""
    origin: bool = False
    """The call answered through an interaction origin."""

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
        name: str = "memory",
    ) -> None:
        self.name = name
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
        self.private: list[tuple[ConversationRef, str, OutgoingMessage, Origin]] = []
        self.streams: list[MemoryNativeStream] = []
        self.statuses: list[tuple[ConversationRef, str]] = []
        """Native status lines set (`set_status`), in order; "" cleared one."""
        self.issued_at: dict[str, float] = {}
        """Interaction token → when the platform issued it (set by tests that play one)."""
        self.token_ttl_s = 900.0
        self._ids = itertools.count(1)
        self._windows: dict[tuple[int, str], deque[float]] = defaultdict(deque)
        self._buckets: dict[tuple[int, str], tuple[float, float]] = {}
        self._written: dict[str, float] = {}
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

    def private_texts(self) -> list[str]:
        return [m.text_markdown for _, _, m, _ in self.private]

    # -- the Adapter protocol -----------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        await self._enter()
        message_id = f"m{next(self._ids)}"
        self._check("send", ref, "", message)
        if origin is not None:
            self._check_token(origin, ref, message)
        self._record("send", ref, message_id, message, origin=origin is not None)
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
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        await self._enter()
        self._check("send_private", ref, "", message, op=Op.PRIVATE)
        if origin.token:
            self._check_token(origin, ref, message)
        self.private.append((ref, user_id, message, origin))
        self._count(Op.PRIVATE, ref)
        self.calls.append(
            Call(at=self.clock.now(), kind="send_private", ref=ref, message_id="", message=message)
        )

    async def open_native_stream(
        self, ref: ConversationRef, origin: Origin | None
    ) -> MemoryNativeStream | None:
        if not self.native:
            return None
        if not self.capabilities.streams_natively(ref.kind):
            raise PlatformError(f"native streams are not allowed in a {ref.kind.value}")
        await self._enter()
        self._check("open", ref, "", OutgoingMessage.text(""), op=Op.POST)
        self._count(Op.POST, ref)
        stream = MemoryNativeStream(self, ref, stream_id=f"m{next(self._ids)}")
        self.streams.append(stream)
        return stream

    async def typing(self, ref: ConversationRef) -> None:
        await self._indicate("typing", ref, "")

    async def set_status(self, ref: ConversationRef, text: str) -> None:
        """A native status line (where `capabilities.native_status`); "" clears it."""
        if not self.capabilities.native_status:
            raise PlatformError("this platform shows no native status", permanent=True)
        await self._indicate("status", ref, text)
        self.statuses.append((ref, text))

    async def _indicate(self, kind: str, ref: ConversationRef, text: str) -> None:
        """A typing indicator or status line: checked and counted as `Op.TYPING`, no message."""
        await self._enter()
        message = OutgoingMessage.text(text)
        self._check(kind, ref, "", message, op=Op.TYPING)
        self._count(Op.TYPING, ref)
        self.calls.append(
            Call(at=self.clock.now(), kind=kind, ref=ref, message_id="", message=message)
        )

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

    def _check_token(self, origin: Origin, ref: ConversationRef, message: OutgoingMessage) -> None:
        issued = self.issued_at.get(origin.token)
        if issued is not None and self.clock.now() > issued + self.token_ttl_s:
            self._refuse("send", ref, "", message, PlatformError("Unknown Webhook (token expired)"))

    def _check(
        self,
        kind: str,
        ref: ConversationRef,
        message_id: str,
        message: OutgoingMessage,
        *,
        op: Op | None = None,
    ) -> None:
        now = self.clock.now()
        script = self._script.get(kind)
        if script:
            self._refuse(kind, ref, message_id, message, script.pop(0))
        op = op or KINDS[kind]
        if self.enforce_rate:
            for index, rate in enumerate(self.capabilities.rate_limits):
                if op not in rate.ops:
                    continue
                key = (index, scope_key(ref, rate.scope))
                if rate.burst:
                    tokens = self._bucket(key, rate, now)
                    if tokens < 1.0 - 1e-9:
                        retry = (1.0 - tokens) * rate.interval_s
                        self._refuse(kind, ref, message_id, message, RateLimited(retry))
                    continue
                window = self._windows[key]
                while window and window[0] <= now - rate.window_s:
                    window.popleft()
                if len(window) >= rate.calls:
                    retry = window[0] + rate.window_s - now
                    self._refuse(kind, ref, message_id, message, RateLimited(retry))
        if self.enforce_edit_interval and kind == "edit":
            last = self._written.get(message_id)
            if last is not None and now - last < self.capabilities.min_edit_interval_s - 1e-9:
                retry = last + self.capabilities.min_edit_interval_s - now
                self._refuse(kind, ref, message_id, message, RateLimited(retry))
        length = len(render(message))
        if length > self.max_chars:
            self._refuse(kind, ref, message_id, message, MessageTooLong(length, self.max_chars))

    def _count(self, op: Op, ref: ConversationRef) -> None:
        now = self.clock.now()
        for index, rate in enumerate(self.capabilities.rate_limits):
            if op in rate.ops:
                key = (index, scope_key(ref, rate.scope))
                if rate.burst:
                    self._buckets[key] = (self._bucket(key, rate, now) - 1.0, now)
                else:
                    self._windows[key].append(now)

    def _bucket(self, key: tuple[int, str], rate: RateLimit, now: float) -> float:
        """The tokens of a `burst` limit's bucket at `now`."""
        assert rate.burst is not None
        tokens, last = self._buckets.get(key, (float(rate.burst), now))
        return min(float(rate.burst), tokens + (now - last) / rate.interval_s)

    def _record(
        self,
        kind: str,
        ref: ConversationRef,
        message_id: str,
        message: OutgoingMessage,
        *,
        origin: bool = False,
    ) -> None:
        now = self.clock.now()
        self._count(KINDS[kind], ref)
        self._written[message_id] = now
        self.messages[message_id] = message
        self.calls.append(
            Call(at=now, kind=kind, ref=ref, message_id=message_id, message=message, origin=origin)
        )


@dataclass
class MemoryNativeStream:
    """A native stream: appends accumulate into `text`; `finish` turns it into a message."""

    adapter: MemoryAdapter
    ref: ConversationRef
    stream_id: str
    text: str = ""
    appends: list[tuple[float, str]] = field(default_factory=list)
    finished: OutgoingMessage | None = None
    named: bool = True
    """The platform named the stream's message (so the edit path can adopt it)."""

    @property
    def handle(self) -> MessageHandle | None:
        return MessageHandle(ref=self.ref, message_id=self.stream_id) if self.named else None

    async def append(self, text: str) -> None:
        await self.adapter._enter()
        message = OutgoingMessage.text(text, final=False)
        self.adapter._check("append", self.ref, "", message)
        self.appends.append((self.adapter.clock.now(), text))
        self.text += text
        self.adapter._count(Op.STREAM, self.ref)
        self.adapter.messages[self.stream_id] = OutgoingMessage.text(self.text, final=False)
        self.adapter._written[self.stream_id] = self.adapter.clock.now()

    async def finish(self, message: OutgoingMessage) -> MessageHandle:
        await self.adapter._enter()
        self.adapter._check("finish", self.ref, self.stream_id, message)
        self.finished = message
        self.adapter._record("finish", self.ref, self.stream_id, message)
        return MessageHandle(ref=self.ref, message_id=self.stream_id)
