"""When a question's placeholder goes out: at once when nothing earlier in the conversation will
show anything more, after the earlier answer's final form when that answer is still streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.events import IncomingMessage
from bot.llm.types import LLMRequest, StreamEvent
from bot.ports import MessageStatus
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
        IncomingMessage(event_id=text, ref=channel(), author=ADA, text=text, mentions_bot=True)
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


async def test_a_question_behind_bookkeeping_gets_its_placeholder_at_once(tmp_path) -> None:
    h = await start_harness(tmp_path)
    store, saving, booked = h.app.store, asyncio.Event(), asyncio.Event()
    update_message = store.update_message

    async def slow_bookkeeping(*args, **kwargs) -> None:
        if kwargs.get("status") is MessageStatus.FINAL:  # the answer is shown; now its row
            saving.set()
            await booked.wait()
        await update_message(*args, **kwargs)

    store.update_message = slow_bookkeeping  # type: ignore[method-assign]
    try:
        await _ask(h, "first")
        await _until(saving.is_set)
        assert "You said: Ada: first" in _shown(h)  # shown, its row not saved yet
        await _ask(h, "second")
        await _until(lambda: _sends(h) == ["…", "…"])
        assert not booked.is_set()  # the placeholder did not wait for the first turn's writes
        booked.set()
        await h.app.settled()
        assert h.last_text() == "You said: Ada: second"
        history = await store.history(channel().memory_key)
        assert [m.text for m in history] == [
            "first",
            "You said: Ada: first",
            "second",
            "You said: Ada: second",
        ]
    finally:
        booked.set()
        await h.app.stop()


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
