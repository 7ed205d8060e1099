"""Teams admins are the Entra object ids in TEAMS_ADMIN_IDS: end to end through the Bot
Framework adapter and the fake connector, an admin's admin command is answered and audited, a
non-admin's is refused privately (in the 1:1 chat) and audited as refused. TEAMS_ADMIN_GROUP_ID
is refused at start-up, loudly, until group lookups exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.teams.adapter import TeamsAdapter
from bot.errors import ConfigError
from bot.settings import load_settings
from storage.audit import SqlAuditLog
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.teams_activities import USER_AAD
from tests.fakes.teams_connector import FakeConnector
from tests.teams.test_e2e import Bot, Deployments, TeamsParley, stop_bot

GRACE = "29:1user-grace"


@pytest.fixture
async def bot(
    tmp_path: Path, fake_connector: FakeConnector, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    settings = load_settings(
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        teams_allow_anonymous=True,
        teams_admin_ids=USER_AAD,
        **fake_openai.settings_overrides(),
    )
    deployments = Deployments()
    app = TeamsParley(settings, deployments=deployments, knowledge=False)
    await app.start()
    teams = app.adapters["teams"]
    assert isinstance(teams, TeamsAdapter)
    b = Bot(
        app=app,
        adapter=teams,
        fake=fake_connector,
        llm=fake_openai,
        session=aiohttp.ClientSession(),
        deployments=deployments,
    )
    yield b
    await stop_bot(b)


def private_replies(bot: Bot) -> list[str]:
    chats = [c for c in bot.fake.conversations.values() if c.kind == "personal"]
    return [a.text for chat in chats for a in bot.answers(chat.id)]


async def test_the_listed_admin_may_and_others_are_refused_privately(bot: Bot) -> None:
    channel = bot.fake.channel()
    asks_about_ada = bot.fake.inbound(
        channel, f"usage week @{USER_AAD}", mention=True, user=GRACE, name="Grace"
    )
    await bot.post(asks_about_ada)
    await bot.idle()
    await bot.post(bot.fake.inbound(channel, f"usage week @aad-{GRACE}", mention=True))
    await bot.idle()
    refusal, report = private_replies(bot)
    assert "Only admins can see other people" in refusal
    assert "Usage this week" in report and f"@aad-{GRACE}" in report
    assert bot.answers(channel.id) == []  # neither was posted in the channel
    assert bot.llm.requests == []
    entries = await SqlAuditLog(bot.app.store.db).entries()
    assert [(e.actor_id, e.result) for e in entries] == [
        (USER_AAD, "ok"),
        (f"aad-{GRACE}", "refused"),
    ]


def test_an_admin_group_is_refused_until_supported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TEAMS_ADMIN_GROUP_ID"):
        load_settings(_env_file=None, data_dir=tmp_path, teams_admin_group_id="0f1e2d3c")
