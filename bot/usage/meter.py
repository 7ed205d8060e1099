"""`MeteredModel`: the `ChatModel` the core calls, writing one usage record per LLM call.

How it works: every `stream(request)` is one call to a provider (the router inside may try
several, but only the one that answers reports usage). The wrapper passes each event through,
notes which provider and model answered (`Answering`) and adds up the `Usage` events; when the
stream ends, normally or not, it writes one record: tokens, the estimated cost from the price
table, and who and where, taken from the turn's `Attribution`.

The attribution is a context variable set by the turn (`attributed(ref, author)`) rather than a
parameter of `ChatModel.stream`: the calls a turn makes go through layers that know nothing of
users (the summarizer of `bot.core.memory`, the query rewrite of `bot.core.compose`, tool steps),
and a context variable follows the turn's task and the tasks it starts without touching them.
A call made outside any turn is logged and not recorded (there is nobody to bill it to).

A failed write is logged, never raised: the answer matters more than its accounting.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from bot.llm.types import Answering, ChatModel, LLMRequest, StreamEvent, Usage
from bot.logs import get_logger
from bot.ports import ConversationStore
from bot.refs import Author, ConversationRef
from bot.usage.periods import WallClock, utc_now
from bot.usage.prices import PriceTable

log = get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    """Whom a turn's LLM calls are billed to, and where."""

    ref: ConversationRef
    author: Author


_CURRENT: ContextVar[Attribution | None] = ContextVar("parley_usage_attribution", default=None)


@contextlib.contextmanager
def attributed(ref: ConversationRef, author: Author) -> Iterator[None]:
    """Bill the LLM calls made inside the block (and in tasks it starts) to `author` in `ref`."""
    token = _CURRENT.set(Attribution(ref=ref, author=author))
    try:
        yield
    finally:
        _CURRENT.reset(token)


class MeteredModel:
    def __init__(
        self,
        model: ChatModel,
        store: ConversationStore,
        prices: PriceTable,
        *,
        now: WallClock = utc_now,
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
                await self._record(provider, model, input_tokens, output_tokens)

    async def _record(
        self, provider: str, model: str, input_tokens: int, output_tokens: int
    ) -> None:
        who = _CURRENT.get()
        if who is None:
            log.warning(
                "LLM call outside a turn: usage not recorded",
                provider=provider,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            return
        try:
            await self._store.record_usage(
                who.ref,
                provider=provider,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                user=who.author,
                cost_usd=self._prices.cost(model, input_tokens, output_tokens),
                at=self._now(),
            )
        except Exception:
            log.exception("could not record an LLM call's usage", provider=provider, model=model)
