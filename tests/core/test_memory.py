"""Token budgets and the rolling summary."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.core.memory import Budget, Memory, message_tokens
from bot.grounding import estimate_tokens
from bot.llm.types import LLMRequest, StreamEvent, TextDelta
from bot.ports import StoredMessage
from bot.refs import Author, ConversationRef
from storage import open_store
from tests.fakes.scripted_model import ScriptedModel

REF = ConversationRef(platform="memory", workspace_id="T", channel_id="C")


def test_budget_defaults_and_scaling(tmp_path) -> None:
    from tests.core.conftest import make_settings

    budget = Budget.from_settings(make_settings(tmp_path))
    assert (budget.system, budget.knowledge, budget.history, budget.output) == (
        1000,
        3000,
        3000,
        2000,
    )
    small = Budget.from_settings(make_settings(tmp_path, llm_context_window=4500))
    assert small.total <= 4500
    assert small.history == 1500 and small.output == 1000


async def _store_with(tmp_path, n: int, size: int):
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    await store.ensure_conversation(REF)
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        await store.add_message(
            REF, role=role, text=f"{i:03d} " + "w" * size, author=Author(id="U", display_name="Ada")
        )
    return store


async def test_recall_fits_budget_but_keeps_last_six(tmp_path) -> None:
    store = await _store_with(tmp_path, 20, 400)
    try:
        memory = Memory(store, Budget(system=100, knowledge=0, history=500, output=100))
        recall = await memory.recall(REF.memory_key)
        assert len(recall.messages) == 6
        assert recall.messages[-1].text.startswith("019")
        roomy = Memory(store, Budget(system=100, knowledge=0, history=100_000, output=100))
        assert len((await roomy.recall(REF.memory_key)).messages) == 20
    finally:
        await store.close()


async def test_fold_summarizes_oldest_turns_and_recall_uses_the_summary(tmp_path) -> None:
    store = await _store_with(tmp_path, 20, 400)
    model = ScriptedModel()
    model.say("Ada asked twenty questions about w.")
    try:
        memory = Memory(store, Budget(system=100, knowledge=0, history=1000, output=100), model)
        assert await memory.fold_if_needed(REF.memory_key)
        prompt = model.requests[-1].messages[-1].content
        assert "000 w" in prompt and "Ada" in prompt
        summary = await store.summary(REF.memory_key)
        assert summary is not None and summary.text == "Ada asked twenty questions about w."
        recall = await memory.recall(REF.memory_key)
        assert recall.summary == summary.text
        assert all(m.id > summary.through_message_id for m in recall.messages)
        assert len(recall.messages) >= 6
        assert not await memory.fold_if_needed(REF.memory_key)
    finally:
        await store.close()


async def test_fold_failure_leaves_history_intact(tmp_path) -> None:
    store = await _store_with(tmp_path, 20, 400)

    class Broken(ScriptedModel):
        async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
            yield TextDelta(text="")
            raise RuntimeError("down")

    try:
        memory = Memory(store, Budget(system=100, knowledge=0, history=1000, output=100), Broken())
        assert not await memory.fold_if_needed(REF.memory_key)
        assert await store.summary(REF.memory_key) is None
    finally:
        await store.close()


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("x" * 4000) == 1000


def test_a_stored_message_costs_its_text_plus_a_fixed_overhead() -> None:
    short = message_tokens(StoredMessage(id=1, role="user", text="hi"))
    long = message_tokens(StoredMessage(id=2, role="user", text="hi" + "x" * 398))
    assert short > estimate_tokens("hi")  # role and framing cost something too
    assert long - short == 99
