"""The inbound pipeline: ordered middleware between an adapter's sink and the conversation queues.

    ignore self/bots → relevance (follow-ups) → dedupe(event_id) → rate limit → dispatch

Each step is a small function `(event, next)`; a step that drops an event says why in a metric
and a debug log line (and, where the sender expects an answer, tells them). Relevance runs before
dedupe so that channel chatter the bot will never answer costs no database write; dedupe runs
before the rate limit so that a platform's retries of one event never spend the sender's
allowance. Dispatch parses commands with the one grammar (`bot.core.grammar`), places answers
(`bot.core.placement`) and only enqueues: the adapter's ack is never held up by an answer.
Messages, commands and the slow part of clicks of one conversation run in order in its queue.

A click is decided at once (`bot.core.actions`): its `ActionResult` is returned to an adapter
that shows it in the platform's synchronous response (`Capabilities.action_response`), and
applied through the delivery engine for the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence

import structlog
from aiolimiter import AsyncLimiter

from bot import metrics
from bot.adapter import Adapter, ThreadProbe, ThreadReader
from bot.clock import Clock
from bot.core.actions import ActionRouter
from bot.core.commands import Commands
from bot.core.followups import FollowupPolicy
from bot.core.grammar import parse
from bot.core.lru import Lru
from bot.core.placement import place
from bot.core.queues import ConversationQueues
from bot.core.turn import Question, TurnRunner
from bot.delivery import Delivery
from bot.events import ActionClick, ActionResult, Command, Event, IncomingMessage
from bot.logs import get_logger
from bot.refs import ConversationKind, MessageHandle
from bot.security.text import sanitized

log = get_logger(__name__)
Result = ActionResult | None
Next = Callable[[Event], Awaitable[Result]]
Middleware = Callable[[Event, Next], Awaitable[Result]]
MAX_LIMITERS = 10_000
"""Per-user limiters kept; the least recently active go first."""
TOO_FAST = "You're sending messages faster than I can answer. Please wait a minute."
RESTARTING = "Parley is restarting; please ask again in a moment."


def _expects_an_answer(event: Event) -> bool:
    """A command, a click, or a message to the bot (not channel chatter it may ignore)."""
    if isinstance(event, IncomingMessage):
        return event.mentions_bot or event.ref.kind is ConversationKind.DIRECT
    return not event.author.is_bot


class Pipeline:
    def __init__(
        self,
        *,
        per_minute: int,
        queues: ConversationQueues,
        runner: TurnRunner,
        commands: Commands,
        actions: ActionRouter,
        followups: FollowupPolicy,
        adapters: Mapping[str, Adapter],
        deliveries: Mapping[str, Delivery],
        clock: Clock,
        claim: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._queues = queues
        self._runner = runner
        self._commands = commands
        self._actions = actions
        self._followups = followups
        self._adapters = adapters
        self._deliveries = deliveries
        self._clock = clock
        self._claim = claim
        self._per_minute = per_minute
        self._limiters: Lru[str, AsyncLimiter] = Lru(MAX_LIMITERS)
        self._chain: Sequence[Middleware] = (
            self._ignore_bots,
            self._relevance,
            self._dedupe,
            self._rate_limit,
        )
        self._closed = False

    def close(self) -> None:
        """Take no more events: the process is shutting down (`bot.shutdown`)."""
        self._closed = True

    async def __call__(self, event: Event) -> Result:
        """The EventSink handed to every adapter."""
        metrics.EVENTS.labels(event.ref.platform, type(event).__name__).inc()
        if self._closed:
            metrics.DROPPED.labels(event.ref.platform, "shutting_down").inc()
            log.info("event dropped: shutting down", event_id=event.event_id)
            if _expects_an_answer(event):  # never dropped silently
                await self._tell(event, RESTARTING)
            return None
        event = sanitized(event)  # valid, visible text from here on (bot.security.text)
        event = dataclasses.replace(event, origin=event.origin.stamped(self._clock.now()))
        with structlog.contextvars.bound_contextvars(
            event_id=event.event_id, memory_key=event.ref.memory_key
        ):
            return await self._run(0, event)

    async def _run(self, index: int, event: Event) -> Result:
        if index == len(self._chain):
            return await self._dispatch(event)
        return await self._chain[index](event, lambda e: self._run(index + 1, e))

    def _drop(self, event: Event, reason: str) -> None:
        metrics.DROPPED.labels(event.ref.platform, reason).inc()
        log.debug("event dropped", reason=reason)

    # --- middleware ---------------------------------------------------------------------------
    async def _ignore_bots(self, event: Event, next_: Next) -> Result:
        if event.author.is_bot:
            self._drop(event, "bot_author")
            return None
        return await next_(event)

    async def _relevance(self, event: Event, next_: Next) -> Result:
        if isinstance(event, IncomingMessage):
            if not (event.text.strip() or event.attachments):
                self._drop(event, "empty")
                return None
            adapter = self._adapters[event.ref.platform]
            probe = adapter if isinstance(adapter, ThreadProbe) else None
            if not await self._followups.addressed(event, probe):
                self._drop(event, "not_addressed")
                return None
        return await next_(event)

    async def _dedupe(self, event: Event, next_: Next) -> Result:
        if not await self._claim(event.event_id):
            self._drop(event, "duplicate")
            return None
        return await next_(event)

    async def _rate_limit(self, event: Event, next_: Next) -> Result:
        # The console is the local operator: piping a file of questions is not flooding.
        if isinstance(event, IncomingMessage | Command) and event.ref.platform != "console":
            key = event.author.qualified_id(event.ref.platform)
            limiter = self._limiters.setdefault(key, lambda: AsyncLimiter(self._per_minute, 60))
            if not limiter.has_capacity():
                self._drop(event, "rate_limited")
                await self._tell(event, TOO_FAST)
                return None
            await limiter.acquire()
        return await next_(event)

    async def _tell(self, event: Event, text: str) -> None:
        """A private note to the event's sender; a failure to deliver it is logged, not raised."""
        await self._deliveries[event.ref.platform].tell(event, text)

    # --- dispatch -----------------------------------------------------------------------------
    async def _dispatch(self, event: Event) -> Result:
        delivery = self._deliveries[event.ref.platform]
        if isinstance(event, ActionClick):
            return await self._click(event, delivery)
        typed = isinstance(event, IncomingMessage)
        invocation = parse(event.text, typed=typed)
        if invocation is not None and invocation.name != "ask":
            command = (
                event
                if isinstance(event, Command)
                else Command(
                    event_id=event.event_id,
                    ref=event.ref,
                    author=event.author,
                    text=event.text,
                    origin=event.origin,
                )
            )
            self._submit(event, lambda: self._commands.handle(command, invocation, delivery))
            return None
        if isinstance(event, IncomingMessage):
            placed = await place(event, self._adapters[event.ref.platform])
            question = Question(
                ref=placed.ref,
                author=event.author,
                text=event.text,
                origin=event.origin,
                reply_to=placed.reply_to,
            )
        else:
            assert invocation is not None  # a command that is not one is a question (`ask`)
            question = Question(
                ref=event.ref, author=event.author, text=invocation.text, origin=event.origin
            )
        self._followups.note(question.ref)
        adapter = self._adapters[event.ref.platform]
        reader = adapter if isinstance(adapter, ThreadReader) else None
        self._submit(
            event,
            lambda: self._runner.answer(question, delivery, reader),
            key=question.ref.memory_key,
        )
        return None

    async def _click(self, click: ActionClick, delivery: Delivery) -> Result:
        decision = await self._actions.decide(click)
        if decision.then is not None:
            self._submit(click, decision.then)
        result = decision.result
        if delivery.adapter.capabilities.action_response:
            return result
        if result.update is not None and click.origin.message_id:
            card = MessageHandle(ref=click.ref, message_id=click.origin.message_id)
            try:
                await delivery.update(card, result.update)
            except Exception:
                log.exception("could not update the clicked card")
        if result.private is not None:
            await self._tell(click, result.private.text_markdown)
        return None

    def _submit(
        self, event: Event, job: Callable[[], Awaitable[None]], *, key: str | None = None
    ) -> None:
        """Queue `job` in the event's conversation, its log lines bound to the event (a queue's
        worker task keeps the context of whichever event started it)."""
        memory_key = key or event.ref.memory_key

        async def bound() -> None:
            with structlog.contextvars.bound_contextvars(
                event_id=event.event_id, memory_key=memory_key
            ):
                await job()

        self._queues.submit(memory_key, bound)
