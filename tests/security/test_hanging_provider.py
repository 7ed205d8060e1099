"""A provider that never answers: the user hears back within the turn deadline, is told while
waiting, and the next question does not wait for it again."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fakes.llm_fixtures import Call, Hang, ToolCalls
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi
from tests.security.conftest import start_bot

DEADLINE_S = 3.0


async def test_hanging_provider_gets_a_clear_answer_within_the_deadline(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(
        tmp_path, fake_slack, fake_openai, llm_turn_deadline_s=DEADLINE_S, llm_slow_notice_s=1.0
    )
    try:
        fake_openai.script_hang(3600)
        started = time.monotonic()
        await bot.mention("what is our refund policy?")
        await bot.idle(within=DEADLINE_S + 10)
        took = time.monotonic() - started

        shown = [repr(c.args) for c in fake_slack.calls if c.method.startswith("chat.")]
        assert any("Still working" in s for s in shown), shown  # told while waiting
        final = fake_slack.bot_messages()[-1].text
        assert "openai" in final and f"no answer within {DEADLINE_S:.0f}s" in final
        assert "LLM_TURN_DEADLINE_S" in final  # what the operator can do
        assert took < DEADLINE_S + 3, took
        assert len(fake_openai.requests) == 1

        # The breaker opened at once: the next question is answered without waiting.
        started = time.monotonic()
        await bot.mention("and shipping?")
        await bot.idle()
        assert time.monotonic() - started < 2.0
        assert len(fake_openai.requests) == 1
        assert "paused" in fake_slack.bot_messages()[-1].text
    finally:
        await bot.sender.__aexit__()
        await bot.app.stop()


async def test_provider_hanging_after_a_tool_call_is_answered_within_the_deadline(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    """The second model call of a tool-using turn hangs: the turn's deadline still holds (the
    first call's time is counted), and the user sees what was shown plus a clear message."""
    bot = await start_bot(tmp_path, fake_slack, fake_openai, llm_turn_deadline_s=DEADLINE_S)
    try:
        fake_openai.script(
            ToolCalls([Call("calculator", {"expression": "6 * 7"})], reason="Let me compute."),
            Hang(3600),
        )
        started = time.monotonic()
        await bot.mention("what is 6 * 7?")
        await bot.idle(within=DEADLINE_S + 10)
        took = time.monotonic() - started

        assert len(fake_openai.requests) == 2  # the tool ran, the model was asked again
        assert "6 * 7 = 42" in repr(fake_openai.requests[1].body["messages"][-1])
        final = fake_slack.bot_messages()[-1].text
        assert final.startswith("Let me compute.")
        assert "openai: no answer within" in final and "LLM_TURN_DEADLINE_S" in final
        assert took < DEADLINE_S + 3, took
    finally:
        await bot.sender.__aexit__()
        await bot.app.stop()
