"""The conversation core end to end in-process: pipeline → queue → turn → delivery → storage."""

from __future__ import annotations

from collections.abc import AsyncIterator

from bot.errors import ProviderError
from bot.events import Command, IncomingMessage, Origin, OriginKind
from bot.llm.types import LLMRequest, StreamEvent, TextDelta
from bot.ports import MessageStatus
from tests.core.conftest import ADA, Harness, channel, start_harness
from tests.fakes.scripted_model import ScriptedModel


async def test_answer_streams_into_placeholder_and_is_stored(harness: Harness) -> None:
    harness.model.say("The capital of France is Paris.")
    await harness.say("What is the capital of France?")

    sends = harness.adapter.ok_calls("send")
    assert len(sends) == 1 and sends[0].text == "…"
    assert harness.last_text() == "The capital of France is Paris."
    history = await harness.app.store.history(channel().memory_key)
    assert [(m.role, m.text) for m in history] == [
        ("user", "What is the capital of France?"),
        ("assistant", "The capital of France is Paris."),
    ]


async def test_second_turn_sends_first_exchange_to_model(harness: Harness) -> None:
    await harness.say("My name is Ada.")
    await harness.say("What is my name?")

    second = harness.model.requests[-1]
    contents = [m.content for m in second.messages]
    assert any("My name is Ada." in c for c in contents)
    assert any("You said: Ada: My name is Ada." in c for c in contents)
    assert contents[-1].endswith("What is my name?")


async def test_repeated_event_is_answered_once(harness: Harness) -> None:
    event = IncomingMessage(
        origin=Origin(kind=OriginKind.MESSAGE),
        event_id="same",
        ref=channel(),
        author=ADA,
        text="hi",
        mentions_bot=True,
    )
    assert harness.app.pipeline is not None
    for _ in range(4):
        await harness.app.pipeline(event)
    await harness.app.settled()
    assert len(harness.adapter.ok_calls("send")) == 1
    assert len(harness.model.requests) == 1


async def test_unaddressed_channel_messages_are_ignored(harness: Harness) -> None:
    """Channel chatter that does not mention Parley (bots: `tests/core/test_pipeline.py`)."""
    assert harness.app.pipeline is not None
    await harness.app.pipeline(
        IncomingMessage(
            origin=Origin(kind=OriginKind.MESSAGE),
            event_id="c",
            ref=channel(),
            author=ADA,
            text="chatter",
        )
    )
    await harness.app.settled()
    assert harness.adapter.calls == []


async def test_thread_followup_is_answered_only_where_the_bot_took_part(harness: Harness) -> None:
    assert harness.app.pipeline is not None
    other = channel(thread="999.1")
    await harness.app.pipeline(
        IncomingMessage(
            origin=Origin(kind=OriginKind.MESSAGE),
            event_id="x",
            ref=other,
            author=ADA,
            text="not for the bot",
        )
    )
    await harness.app.settled()
    assert harness.adapter.calls == []

    thread = channel(thread="123.4")
    await harness.say("first question", ref=thread)
    await harness.app.pipeline(
        IncomingMessage(
            origin=Origin(kind=OriginKind.MESSAGE),
            event_id="y",
            ref=thread,
            author=ADA,
            text="and a follow-up",
        )
    )
    await harness.app.settled()
    assert harness.last_text() == "You said: Ada: and a follow-up"


async def test_too_long_message_gets_a_clear_reply_and_is_kept(harness: Harness) -> None:
    await harness.say("x" * 32_001)
    assert "too long" in harness.last_text()
    assert "32,001" in harness.last_text() and "32,000" in harness.last_text()
    assert harness.model.requests == []


async def test_provider_outage_ends_with_clear_message_and_keeps_user_message(
    harness: Harness,
) -> None:
    harness.model.say(
        ProviderError("The language model is unavailable right now. Please try again.")
    )
    await harness.say("Are you there?")
    assert "unavailable" in harness.last_text()
    history = await harness.app.store.history(channel().memory_key)
    assert [(m.role, m.text) for m in history] == [("user", "Are you there?")]


async def test_crash_mid_answer_still_ends_with_a_final_message(tmp_path) -> None:
    class Crashing(ScriptedModel):
        async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
            yield TextDelta(text="Half an answ")
            raise RuntimeError("boom")

    h = await start_harness(tmp_path, Crashing())
    try:
        await h.say("hello")
        final = h.last_text()
        assert "Half an answ" in final and "something went wrong" in final.lower()
    finally:
        await h.app.stop()


async def test_reset_command_clears_memory(harness: Harness) -> None:
    await harness.say("My name is Ada.")
    assert harness.app.pipeline is not None
    await harness.app.pipeline(command("reset"))
    await harness.app.settled()
    assert await harness.app.store.history(channel().memory_key) == []
    assert "forgotten" in harness.adapter.private_texts()[-1]
    await harness.say("What is my name?")
    assert not any("My name is Ada." in m.content for m in harness.model.requests[-1].messages)


async def test_an_empty_command_gets_help_and_other_words_are_a_question(
    harness: Harness,
) -> None:
    assert harness.app.pipeline is not None
    await harness.app.pipeline(command(""))
    await harness.app.settled()
    assert "`reset`" in harness.adapter.private_texts()[-1]
    await harness.app.pipeline(command("what is the deploy window?"))
    await harness.app.settled()
    assert "what is the deploy window?" in harness.model.requests[-1].messages[-1].content


def command(text: str) -> Command:
    return Command(
        event_id=f"cmd-{text}",
        ref=channel(),
        author=ADA,
        text=text,
        origin=Origin(kind=OriginKind.COMMAND),
    )


async def test_memory_survives_restart(tmp_path) -> None:
    first = await start_harness(tmp_path)
    await first.say("My name is Ada.")
    await first.app.stop()

    second = await start_harness(tmp_path)
    try:
        await second.say("What is my name?")
        assert any("My name is Ada." in m.content for m in second.model.requests[-1].messages)
    finally:
        await second.app.stop()


async def test_no_model_configured_says_so_plainly(tmp_path) -> None:
    h = await start_harness(tmp_path, ScriptedModel(available=False))
    try:
        await h.say("How do I deploy?")
        text = h.last_text().lower()
        assert "no language model is configured" in text
        history = await h.app.store.history(channel().memory_key)
        assert history[-1].status is MessageStatus.FINAL
    finally:
        await h.app.stop()


async def test_conversations_run_concurrently_but_each_in_order(tmp_path) -> None:
    h = await start_harness(tmp_path)
    try:
        assert h.app.pipeline is not None
        refs = [channel(thread=f"t{i}") for i in range(5)]
        for i, ref in enumerate(refs):
            for j in range(3):
                await h.app.pipeline(
                    IncomingMessage(
                        origin=Origin(kind=OriginKind.MESSAGE),
                        event_id=f"{i}-{j}",
                        ref=ref,
                        author=ADA,
                        text=f"m{i}-{j}",
                        mentions_bot=True,
                    )
                )
        await h.app.settled()
        for i, ref in enumerate(refs):
            history = await h.app.store.history(ref.memory_key)
            assert [m.text for m in history if m.role == "user"] == [f"m{i}-{j}" for j in range(3)]
    finally:
        await h.app.stop()


async def test_turn_outcomes_are_counted_for_metrics(harness: Harness) -> None:
    from bot import metrics

    def count(outcome: str) -> float:
        return (
            metrics.REGISTRY.get_sample_value(
                "parley_turns_total", {"platform": "memory", "outcome": outcome}
            )
            or 0.0
        )

    answered, failed = count("answered"), count("failed")
    harness.model.say("fine", ProviderError("The language model is unavailable right now."))
    await harness.say("one")
    await harness.say("two")
    assert (count("answered"), count("failed")) == (answered + 1, failed + 1)
