"""`MeteredModel`: the `ChatModel` the core calls, making one usage record per LLM call.

How it works: every `stream(request)` is one call to a provider (the router inside may try
several, but only the one that answers reports usage). The wrapper passes each event through,
notes which provider and model answered (`Answering`) and adds up the `Usage` events; when the
stream ends, normally or not, the call becomes one record: tokens, the estimated cost from the
price table, and who and where, from the turn's `Attribution`.

The attribution is a context variable set by the turn (`async with attributed(ref, author)`)
rather than a parameter of `ChatModel.stream`: the calls a turn makes go through layers that
know nothing of users (the summarizer of `bot.core.memory`, the query rewrite of
`bot.core.compose`, tool steps), and a context variable follows the turn's task and the tasks
it starts without touching them. The records are written when the block ends, after the
turn's final message, so that accounting never delays an answer (a process killed mid-turn
loses that turn's records, as it loses the turn). A call made outside any turn is logged and
not recorded: there is nobody to bill it to.

A failed write is logged, never raised: the answer matters more than its accounting.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from bot.llm.types import Answering, ChatModel, LLMRequest, StreamEvent, Usage
from bot.logs import get_logger
from bot.ports import ConversationStore
from bot.refs import Author, ConversationRef
from bot.usage.periods import Now, utc_now
from bot.usage.prices import PriceTable

log = get_logger(__name__)

Write = Callable[["Attribution"], Awaitable[None]]


@dataclass(slots=True, kw_only=True)
class Attribution:
    """Whom a turn's LLM calls are billed to, where, and the records waiting to be written."""

    ref: ConversationRef
    author: Author
    pending: list[Write] = field(default_factory=list)


_CURRENT: ContextVar[Attribution | None] = ContextVar("parley_usage_attribution", default=None)


@contextlib.asynccontextmanager
async def attributed(ref: ConversationRef, author: Author) -> AsyncIterator[None]:
    """Bill the LLM calls made inside the block (and in tasks it starts) to `author` in `ref`;
    their records are written as the block ends."""
    who = Attribution(ref=ref, author=author)
    token = _CURRENT.set(who)
    try:
        yield
    finally:
        _CURRENT.reset(token)
        for write in who.pending:
            await write(who)


class MeteredModel:
    def __init__(
        self,
        model: ChatModel,
        store: ConversationStore,
        prices: PriceTable,
        *,
        now: Now = utc_now,
    ) -> None:
        self._model = model
        self._store = store
        self._prices = prices
        self._now = now

    @property
    def available(self) -> bool:
        return self._model.available

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        provider = model = ""
        input_tokens = output_tokens = 0
        try:
            async for event in self._model.stream(request):
                if isinstance(event, Answering):
                    provider, model = event.provider, event.model
                elif isinstance(event, Usage):
                    input_tokens += event.input_tokens
                    output_tokens += event.output_tokens
                yield event
        finally:
            if input_tokens or output_tokens:
                self._note(provider, model, input_tokens, output_tokens)

    def _note(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> None:
        who = _CURRENT.get()
        if who is None:
            log.warning(
                "LLM call outside a turn: usage not recorded",
                provider=provider,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            return
        at, cost = self._now(), self._prices.cost(model, input_tokens, output_tokens)

        async def write(who: Attribution) -> None:
            try:
                await self._store.record_usage(
                    who.ref,
                    provider=provider,
                    model=model,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    user=who.author,
                    cost_usd=cost,
                    at=at,
                )
            except Exception:
                log.exception("could not record an LLM call's usage", provider=provider)

        who.pending.append(write)
