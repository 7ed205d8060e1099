"""The inbound pipeline: ordered middleware between an adapter's sink and the conversation queues.

    ignore self/bots → relevance → dedupe(event_id) → rate limit → dispatch

Each step is a small function `(event, next)`; a step that drops an event says why in a metric
and a debug log line. Relevance runs before dedupe so that channel chatter the bot will never
answer costs no database write. Dispatch only enqueues: the adapter's ack is never held up by an
answer. Messages, commands and clicks of one conversation run in order in its queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from aiolimiter import AsyncLimiter

from bot import metrics
from bot.adapter import Adapter, ThreadReader
from bot.core.commands import Commands, text_command
from bot.core.queues import ConversationQueues
from bot.core.turn import TurnRunner, start_reply
from bot.delivery import Delivery, StreamingReply
from bot.events import Command, Event, IncomingMessage
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.ports import ConversationStore
from bot.settings import Settings

log = get_logger(__name__)
Next = Callable[[Event], Awaitable[None]]
Middleware = Callable[[Event, Next], Awaitable[None]]


class Pipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        store: ConversationStore,
        queues: ConversationQueues,
        runner: TurnRunner,
        commands: Commands,
        adapters: Mapping[str, Adapter],
        deliveries: Mapping[str, Delivery],
    ) -> None:
        self._settings = settings
        self._store = store
        self._queues = queues
        self._runner = runner
        self._commands = commands
        self._adapters = adapters
        self._deliveries = deliveries
        self._per_minute = settings.user_messages_per_minute
        self._limiters: dict[str, AsyncLimiter] = {}
        self._replies: dict[str, StreamingReply] = {}
        """Per conversation, the reply of the turn running there, when the pipeline opened it."""
        self._chain: Sequence[Middleware] = (
            self._ignore_bots,
            self._relevance,
            self._dedupe,
            self._rate_limit,
        )

    async def __call__(self, event: Event) -> None:
        """The EventSink handed to every adapter."""
        metrics.EVENTS.labels(event.ref.platform, type(event).__name__).inc()
        with structlog.contextvars.bound_contextvars(
            event_id=event.event_id, memory_key=event.ref.memory_key
        ):
            await self._run(0, event)

    async def _run(self, index: int, event: Event) -> None:
        if index == len(self._chain):
            self._dispatch(event)
            return
        await self._chain[index](event, lambda e: self._run(index + 1, e))

    def _drop(self, event: Event, reason: str) -> None:
        metrics.DROPPED.labels(event.ref.platform, reason).inc()
        log.debug("event dropped", reason=reason)

    # --- middleware ---------------------------------------------------------------------------
    async def _ignore_bots(self, event: Event, next_: Next) -> None:
        if event.author.is_bot:
            return self._drop(event, "bot_author")
        await next_(event)

    async def _relevance(self, event: Event, next_: Next) -> None:
        if isinstance(event, IncomingMessage) and not (event.text.strip() or event.attachments):
            return self._drop(event, "empty")
        if isinstance(event, IncomingMessage) and not (
            event.mentions_bot or event.is_direct or event.is_followup
        ):
            # An adapter that does not judge follow-ups itself: answer an un-mentioned thread
            # reply only where the bot has already taken part in that thread.
            if not (self._settings.thread_followups and event.ref.thread_id):
                return self._drop(event, "not_addressed")
            if not await self._store.history(event.ref.memory_key, limit=1):
                return self._drop(event, "not_addressed")
        await next_(event)

    async def _dedupe(self, event: Event, next_: Next) -> None:
        if not await self._store.claim_event(event.event_id):
            return self._drop(event, "duplicate")
        await next_(event)

    async def _rate_limit(self, event: Event, next_: Next) -> None:
        # The console is the local operator: piping a file of questions is not flooding.
        if isinstance(event, IncomingMessage | Command) and event.ref.platform != "console":
            key = event.author.qualified_id(event.ref.platform)
            limiter = self._limiters.setdefault(key, AsyncLimiter(self._per_minute, 60))
            if not limiter.has_capacity():
                self._drop(event, "rate_limited")
                adapter = self._adapters[event.ref.platform]
                await adapter.send_private(
                    event.ref,
                    event.author.id,
                    OutgoingMessage.text(
                        "You're sending messages faster than I can answer. Please wait a minute."
                    ),
                )
                return
            await limiter.acquire()
        await next_(event)

    # --- dispatch -----------------------------------------------------------------------------
    def _dispatch(self, event: Event) -> None:
        event = _as_meant(event)
        adapter, delivery = self._adapters[event.ref.platform], self._deliveries[event.ref.platform]
        if isinstance(event, IncomingMessage):
            reader = adapter if isinstance(adapter, ThreadReader) else None
            key = event.ref.memory_key
            # Where nothing this conversation has queued will show anything more, the
            # placeholder goes out now, ahead of any other work queued on the event loop;
            # behind an answer still streaming (or a command) it waits its turn, so replies
            # appear in the order of the questions.
            opened = start_reply(delivery, event.ref) if self._quiet(key) else None
            if opened is not None:
                self._replies[key] = opened[0]

            async def answer() -> None:
                try:
                    await self._runner.answer(event, delivery, reader, opened=opened)
                finally:
                    if opened is not None and self._replies.get(key) is opened[0]:
                        del self._replies[key]

            self._submit(event, answer)
        elif isinstance(event, Command):
            self._submit(event, lambda: self._commands.handle(event, adapter, delivery))
        elif (host := self._runner.tool_host) is None:
            self._drop(event, "no_tool_host")
        else:
            self._submit(event, lambda: host.on_click(event, delivery))

    def _quiet(self, key: str) -> bool:
        """Nothing queued or running in the conversation will show anything more: it is idle,
        or its one job is a turn whose reply is final and only has its bookkeeping left."""
        if self._queues.idle(key):
            return True
        running = self._replies.get(key)
        return self._queues.pending(key) == 1 and running is not None and running.delivered

    def _submit(self, event: Event, job: Callable[[], Awaitable[None]]) -> None:
        """Queue `job` in the event's conversation, its log lines bound to the event (a queue's
        worker task keeps the context of whichever event started it)."""

        async def bound() -> None:
            with structlog.contextvars.bound_contextvars(
                event_id=event.event_id, memory_key=event.ref.memory_key
            ):
                await job()

        self._queues.submit(event.ref.memory_key, bound)


def _as_meant(event: Event) -> Event:
    """A message that is exactly a command becomes that Command; `ask <question>` becomes the
    question. Every other event stays as it is."""
    if isinstance(event, IncomingMessage) and (parsed := text_command(event.text)):
        name, args = parsed
        return Command(
            event_id=event.event_id, ref=event.ref, author=event.author, name=name, args=args
        )
    if isinstance(event, Command) and event.name == "ask" and event.text.strip():
        return IncomingMessage(
            event_id=event.event_id,
            ref=event.ref,
            author=event.author,
            text=event.text,
            mentions_bot=True,
        )
    return event
