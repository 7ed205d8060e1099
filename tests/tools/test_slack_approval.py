"""The approval flow on Slack: signed HTTP events and `block_actions` to `/slack/events` on the
server `Parley` starts, the real Slack adapter against the fake Web API, the fake OpenAI API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.settings import Settings
from tests.fakes.llm_fixtures import Call, ToolCalls
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeMessage, FakeSlackApi, block_actions_payload
from tests.slack.test_e2e import SECRET, Bot, start_bot, stop_bot
from tests.tools.conftest import HITS


@pytest.fixture
async def bot(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Bot]:
    def settings(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI) -> Settings:
        return Settings(
            _env_file=None,
            data_dir=tmp_path,
            host="127.0.0.1",
            port=0,
            slack_bot_token=fake.token,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            http_tool_allowed_hosts=("127.0.0.1",),
            **llm.settings_overrides(),
        )

    monkeypatch.setattr("tests.slack.test_e2e.make_settings", settings)
    b = await start_bot(tmp_path, fake_slack, fake_openai)
    yield b
    await stop_bot(b)


def card_of(bot: Bot, channel: str) -> tuple[FakeMessage, str]:
    for message in bot.fake.bot_messages(channel):
        for block in message.blocks:
            for element in block.get("elements") or ():
                if element.get("type") == "button":
                    return message, str(element["value"])
    raise AssertionError(f"no approval card in {channel}: {bot.fake.bot_messages(channel)}")


async def test_slack_buttons_decide_once_and_refuse_others_ephemerally(
    bot: Bot, hook: TestServer
) -> None:
    url = f"http://127.0.0.1:{hook.port}/hook"
    bot.llm.script(
        ToolCalls(
            [Call("http_request", {"url": url, "method": "POST", "body": "hi"})],
            reason="Posting to the hook.",
        )
    )
    asked = await bot.mention("post hi to the hook")
    await bot.idle()
    card, approval_id = card_of(bot, "C0GENERAL")
    assert card.thread_ts == asked.ts and "http_request" in card.text
    assert hook.app[HITS] == []

    def click(user: str) -> dict[str, Any]:
        return block_actions_payload(
            "approve",
            approval_id,
            channel="C0GENERAL",
            message_ts=card.ts,
            thread_ts=asked.ts,
            user_id=user,
        )

    assert (await bot.sender.action(click("U0SOMEONE")))[0] == 200
    await bot.idle()
    [refusal] = bot.fake.ephemerals
    assert refusal["user"] == "U0SOMEONE" and "can't approve" in json.dumps(refusal)
    assert hook.app[HITS] == []

    assert (await bot.sender.action(click("U0USER1")))[0] == 200
    assert (await bot.sender.action(click("U0USER1")))[0] == 200  # double click
    await bot.idle()
    assert hook.app[HITS] == ["hi"]
    assert "Approved by" in card.edits[-1]
    answers = bot.answers("C0GENERAL", asked.ts)
    assert "stored" in answers[-1].edits[-1] and answers[-1] is not card
