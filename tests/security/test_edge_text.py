"""Text at the edge: lone surrogates, controls and invisible characters never reach storage or
the model; a value the database refuses is not reported as an outage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.security.text import clean_question, clean_text, is_data_error
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi
from tests.security.conftest import Bot, start_bot


def memory_key(bot: Bot) -> str:
    answer = bot.fake.bot_messages()[-1]
    return f"slack:T0FAKE:{answer.channel}:{answer.thread_ts}"


def last_user_text(llm: FakeOpenAI) -> str:
    return str(llm.last_body["messages"][-1]["content"])


async def test_lone_surrogates_and_invisible_characters_are_cleaned_before_storage(
    bot: Bot,
) -> None:
    await bot.mention("price of \ud800 the \u202eplan\u200b?\x00\U000e0041\U000e0042 ok")
    await bot.idle()

    asked = last_user_text(bot.llm)
    assert asked.endswith("price of \ufffd the plan? ok"), asked
    rows = [m.text for m in await bot.app.store.history(memory_key(bot))]
    assert any(t.endswith("price of \ufffd the plan? ok") for t in rows), rows
    assert "unavailable" not in bot.fake.bot_messages()[-1].text


async def test_length_cap_counts_the_cleaned_text(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(tmp_path, fake_slack, fake_openai, max_message_chars=100)
    try:
        await bot.mention("a" * 80 + "\u200b" * 500)  # invisible padding does not count
        await bot.idle()
        assert "too long" not in fake_slack.bot_messages()[-1].text
        assert last_user_text(fake_openai).endswith("a" * 80)
        await bot.mention("b" * 101)
        await bot.idle()
        assert "too long" in fake_slack.bot_messages()[-1].text
    finally:
        await bot.sender.__aexit__()
        await bot.app.stop()


async def test_a_refused_value_is_not_called_an_outage(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: Any, **kw: Any) -> tuple[int, int]:
        try:
            "x\ud800".encode()
        except UnicodeEncodeError as exc:
            raise RuntimeError("statement failed") from exc
        raise AssertionError("unreachable")

    monkeypatch.setattr(bot.app.store, "add_question", refuse)
    await bot.mention("hello")
    await bot.idle()
    text = bot.fake.bot_messages()[-1].text
    assert "characters I can't store" in text and "unavailable" not in text


def test_clean_rules() -> None:
    assert clean_text("ok\r\nnext\ttab\x07") == "ok\nnext\ttab"
    assert clean_text("a\udc00b\uffff") == "a\ufffdb\ufffd"
    assert clean_question("e\u0301") == "\u00e9"  # NFC
    assert (
        clean_question("👨\u200d👩\u200d👧 \u200c") == "👨\u200d👩\u200d👧 \u200c"
    )  # joiners kept
    assert clean_question("\ufeffsoft\u00adhy\u2066phen\u2069") == "softhyphen"
    assert is_data_error(ValueError("x")) and not is_data_error(ConnectionError("down"))
