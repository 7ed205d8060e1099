"""An in-process LLM provider on the fake clock, one scripted `Step` per call, for tests of
timing policy (turn deadlines, graceful shutdown) through the real router; and `drive`, which
advances a non-jumping fake clock while a coroutine runs.

Why not an auto-jumping clock: whenever every task waits on the database's thread, it would
leap to the next sleeper and turn a database write into minutes of virtual time. `drive` moves
a tenth of a second at a time with a 2 ms pause in between for that thread, so virtual times
are exact to within the few tenths the database's writes take on a busy machine.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from bot.clock import FakeClock
from bot.llm.types import Finish, LLMRequest, StreamEvent, TextDelta, ToolCall, ToolCallEvent

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    """One model call: wait `delay_s`, then send `text` in words and/or ask for `calc`;
    `hang` stalls for good afterwards (a provider that stops answering)."""

    delay_s: float = 1.0
    text: str = ""
    calc: str = ""
    hang: bool = False
    word_s: float = 0.0


@dataclass
class SteppedProvider:
    """An LLMProvider on the fake clock, one `Step` per call."""

    clock: FakeClock
    steps: deque[Step]
    name: str = "stub"
    model: str = "stub-1"
    requests: list[LLMRequest] = field(default_factory=list)
    started: list[float] = field(default_factory=list)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        self.started.append(self.clock.now())
        step = self.steps.popleft()
        await self.clock.sleep(step.delay_s)
        for word in step.text.split():
            yield TextDelta(text=word + " ")
            await self.clock.sleep(step.word_s)
        if step.calc:
            call = ToolCall(
                id=f"call{len(self.requests)}",
                name="calculator",
                arguments={"expression": step.calc},
            )
            yield ToolCallEvent(call=call)
        if step.hang:
            await asyncio.Event().wait()
        yield Finish(reason="tool_calls" if step.calc else "stop")


async def drive(clock: FakeClock, work: Awaitable[T], *, step_s: float = 0.1) -> T:
    """Await `work`, advancing `clock` by `step_s` every 2 ms of real time until it is done."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.sleep(0.002)  # not timing: lets the database's thread finish its work
        clock.advance(step_s)
    return await task
