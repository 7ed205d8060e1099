"""The whole bot as `parley run` builds it: the real HTTP server and Slack adapter against the
fake Slack Web API, the real core and storage, and the fake OpenAI API through the official SDK.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.app import Parley
from bot.settings import Settings
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import (
    FakeMessage,
    FakeSlackApi,
    SlackEventSender,
    event_envelope,
    message_event,
)

SECRET = "security-signing-secret-4b1d"
CHANNEL = "C0GENERAL"
OPENAI_KEY = "own-openai-key-Zq81mK2x"
"""The bot's own provider key: not in any well-known format, redacted because it is configured."""


@dataclass
class Bot:
    app: Parley
    adapter: SlackAdapter
    fake: FakeSlackApi
    llm: FakeOpenAI
    sender: SlackEventSender
    url: str

    async def idle(self, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while True:
                while self.adapter._tasks:
                    await asyncio.wait(set(self.adapter._tasks))
                await self.app.settled()
                if not self.adapter._tasks:
                    return

    async def mention(self, text: str, *, channel: str = CHANNEL, **kw: Any) -> FakeMessage:
        message = self.fake.user_message(channel, f"<@{self.fake.bot_user_id}> {text}", **kw)
        envelope = event_envelope(message_event(message, kind="app_mention"))
        assert (await self.sender.event(envelope))[0] == 200
        return message

    def everything_posted(self) -> str:
        """Every argument of every call the bot made to Slack, as one string."""
        return "\n".join(repr(call.args) for call in self.fake.calls)


def settings_for(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        slack_bot_token=fake.token,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        **{**llm.settings_overrides(api_key=OPENAI_KEY), **extra},
    )


async def start_bot(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI, **extra: Any) -> Bot:
    app = Parley(settings_for(tmp_path, fake, llm, **extra), knowledge=False)
    await app.start()
    slack = app.adapters["slack"]
    assert isinstance(slack, SlackAdapter)
    url = f"http://127.0.0.1:{app.http_port}/slack/events"
    sender = SlackEventSender(url, SECRET)
    await sender.__aenter__()
    return Bot(app=app, adapter=slack, fake=fake, llm=llm, sender=sender, url=url)


@pytest.fixture
async def bot(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    b = await start_bot(tmp_path, fake_slack, fake_openai, redact_patterns='["ACME-\\\\d{6}"]')
    yield b
    await b.sender.__aexit__()
    await b.app.stop()


@pytest.fixture
def error_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Log records at ERROR or above, collected while the test runs (check at the end)."""
    caplog.set_level(logging.INFO)
    return caplog.records
