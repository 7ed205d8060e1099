"""Failures in the middle of a turn still end in a final message; commands typed as messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.core.grammar import parse
from bot.llm.types import Answering, Finish, LLMRequest, StreamEvent, TextDelta
from bot.ports import MessageStatus, Passage
from tests.core.conftest import Harness, channel, start_harness
from tests.fakes.scripted_model import ScriptedModel
from tests.fakes.stepped_model import drive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reset", ("reset", ())),
        ("/help", ("help", ())),
        ("approve f43d5f54776e837c", ("approve", ("f43d5f54776e837c",))),
        ("kb search rotate keys", ("kb", ("search", "rotate", "keys"))),
        ("help me with the deploy", None),
        ("reset the router, how?", None),
        ("approve this plan please", None),
        ("kb is slow today", None),
    ],
)
def test_text_commands_are_exact(text, expected) -> None:
    parsed = parse(text, typed=True)
    if expected:
        assert parsed is not None and (parsed.name, parsed.args) == expected
    else:
        assert parsed is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("help", ())),
        ("help", ("help", ())),
        ("ask what is up", ("ask", ("what", "is", "up"))),
        ("ask", ("usage", ("ask",))),
        ("how do I deploy?", ("ask", ("how", "do", "I", "deploy?"))),
        ("kb", ("usage", ("kb",))),
        ("kb search", ("usage", ("kb",))),
        ("KB Status", ("kb", ("status",))),
        ("approve nope", ("usage", ("approve",))),
    ],
)
def test_slash_commands_share_the_grammar(text, expected) -> None:
    parsed = parse(text, typed=False)
    assert parsed is not None and (parsed.name, parsed.args) == expected


async def test_mentioning_reset_clears_the_thread(harness: Harness) -> None:
    thread = channel(thread="42.1")
    await harness.say("My name is Ada.", ref=thread)
    await harness.say("reset", ref=thread)
    assert await harness.app.store.history(thread.memory_key) == []
    assert "forgotten" in harness.adapter.private_texts()[-1]


async def test_database_failure_before_the_model_still_finalizes(
    harness: Harness, monkeypatch
) -> None:
    async def broken(*args, **kwargs):
        raise ConnectionError("database is gone")

    monkeypatch.setattr(harness.app.store, "add_question", broken)
    await harness.say("Are you there?")
    assert "couldn't save your message" in harness.last_text()
    assert harness.model.requests == []


async def test_knowledge_outage_is_told_to_the_model_not_hidden(harness: Harness) -> None:
    class DownRetriever:
        async def retrieve(self, query, *, scopes, limit=8) -> list[Passage]:
            raise ConnectionError("qdrant is down")

    assert harness.app.runner is not None
    harness.app.runner._composer._retriever = DownRetriever()
    await harness.say("How do I rotate keys?")
    system = harness.model.requests[-1].messages[0].content
    assert "could not be searched" in system and "nothing on this question" not in system
    assert harness.last_text().startswith("You said:")


async def test_reply_text_is_saved_while_it_streams(tmp_path) -> None:
    seen: list[str] = []
    holder: list[Harness] = []

    class Slow(ScriptedModel):
        async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
            clock = holder[0].app.clock
            yield Answering(provider="scripted", model="slow")
            for word in ("one ", "two ", "three ", "four "):
                yield TextDelta(text=word)
                await clock.sleep(1.5)
            history = await holder[0].app.store.history(channel().memory_key)
            seen.append(history[-1].text)
            yield Finish(reason="stop")

    # Driven, not auto-jumping: a save in flight on the database's thread must not let
    # virtual time leap past it (tests/fakes/stepped_model.py says why).
    clock = FakeClock(autojump=False)
    h = await start_harness(tmp_path, Slow(), clock=clock)
    holder.append(h)
    try:
        await drive(clock, h.say("count"))
        assert seen and seen[0].startswith("one two")
        final = await h.app.store.history(channel().memory_key)
        assert final[-1].status is MessageStatus.FINAL and final[-1].text == "one two three four"
    finally:
        await h.app.stop()
