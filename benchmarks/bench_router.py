"""The model router's cost per streamed event: an in-process provider yields 2,000 text deltas
as fast as it can, read through `LLMRouter.stream` with LLM_TURN_DEADLINE_S on (the deadline
watch reads the provider in a task of its own, `bot.llm.watch`). 40 rounds; the median and the
spread of microseconds per event. Real providers send tens of events a second, so this is the
router's overhead, not a throughput anyone waits for."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator

from bot.llm.router import LLMRouter
from bot.llm.types import ChatMessage, Finish, LLMRequest, StreamEvent, TextDelta

EVENTS = 2_000
ROUNDS = 40


class _Fast:
    name = "fast"
    model = "fast-1"

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        for _ in range(EVENTS):
            yield TextDelta(text="word ")
        yield Finish(reason="stop")


async def _measure() -> list[float]:
    router = LLMRouter([_Fast()], turn_deadline_s=45.0)
    request = LLMRequest(messages=[ChatMessage(role="user", content="go")])
    per_event: list[float] = []
    for _ in range(ROUNDS):
        started, seen = time.perf_counter(), 0
        async for _event in router.stream(request):
            seen += 1
        per_event.append((time.perf_counter() - started) / seen * 1e6)
    return per_event


def main() -> None:
    values = sorted(asyncio.run(_measure()))
    q1, q3 = values[len(values) // 4], values[3 * len(values) // 4]
    print(
        f"router: {statistics.median(values):.2f} µs per event (median of {ROUNDS} rounds of "
        f"{EVENTS:,}; quartiles {q1:.2f}–{q3:.2f}, min {values[0]:.2f}, max {values[-1]:.2f})"
    )
