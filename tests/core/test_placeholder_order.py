"""Replies appear in the order of the questions: a question asked while the answer before it
is still streaming gets its first post only after that answer's final form."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.events import IncomingMessage, Origin, OriginKind
from bot.llm.types import LLMRequest, StreamEvent
from tests.core.conftest import ADA, Harness, channel, start_harness
from tests.fakes.scripted_model import ScriptedModel


class GatedModel(ScriptedModel):
    """Streams its first answer up to the last chunk, then waits for `gate`."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        first = not self.requests
        async for item in super().stream(request):
            if first and type(item).__name__ == "Usage":
                await self.gate.wait()
            yield item


async def _ask(h: Harness, text: str) -> None:
    assert h.app.pipeline is not None
    await h.app.pipeline(
        IncomingMessage(
            origin=Origin(kind=OriginKind.MESSAGE),
            event_id=text,
            ref=channel(),
            author=ADA,
            text=text,
            mentions_bot=True,
        )
    )


def _shown(h: Harness) -> list[str]:
    return [m.text_markdown for m in h.adapter.messages.values()]


def _sends(h: Harness) -> list[str]:
    return [c.text for c in h.adapter.ok_calls("send")]


async def _until(condition) -> None:
    """Poll (the store's writes run in a driver thread, so yielding alone is not enough)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_question_behind_a_streaming_answer_waits_for_its_final_form(tmp_path) -> None:
    model = GatedModel()
    h = await start_harness(tmp_path, model=model)
    try:
        await _ask(h, "first")
        await _until(lambda: len(model.requests) == 1)
        await _ask(h, "second")
        await asyncio.sleep(0.2)
        assert _sends(h) == ["…"]  # no second placeholder above the first answer
        model.gate.set()
        await h.app.settled()
        calls = [c for c in h.adapter.ok_calls() if c.kind in ("send", "edit")]
        first_final = next(i for i, c in enumerate(calls) if c.text == "You said: Ada: first")
        second_placeholder = [i for i, c in enumerate(calls) if c.kind == "send"][1]
        assert first_final < second_placeholder
        assert h.last_text() == "You said: Ada: second"
    finally:
        model.gate.set()
        await h.app.stop()
