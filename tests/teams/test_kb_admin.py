"""Knowledge admin on Teams, through the real adapter and the fake Bot Connector: `kb reindex`
typed by a non-admin is refused privately (in the 1:1 chat); by an admin it posts one progress
message (a card with the Cancel button) and updates it into the summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.teams.adapter import TeamsAdapter
from bot.app import Parley
from bot.settings import Settings
from tests.core.kb_rig import write_corpus
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.teams_connector import FakeConnector
from tests.teams.test_e2e import Bot, Deployments, chain_of, stop_bot

ADMIN = "29:admin-aad-user"


@pytest.fixture
async def bot(
    tmp_path: Path, fake_connector: FakeConnector, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        teams_allow_anonymous=True,
        admin_users=(f"teams:aad-{ADMIN}",),  # Teams authors are their AAD object ids
        embedding_model="hashing-256",
        knowledge_paths=(str(write_corpus(tmp_path / "corpus", 2)),),
        **fake_openai.settings_overrides(),
    )
    app = Parley(settings)
    await app.start()
    await app.wait_indexed()
    teams = app.adapters["teams"]
    assert isinstance(teams, TeamsAdapter)
    b = Bot(
        app=app,  # type: ignore[arg-type]
        adapter=teams,
        fake=fake_connector,
        llm=fake_openai,
        session=aiohttp.ClientSession(),
        deployments=Deployments(),
    )
    yield b
    await stop_bot(b)


async def test_kb_admin_on_teams(bot: Bot, tmp_path: Path) -> None:
    (tmp_path / "corpus" / "new.md").write_text("# New\n\nA new fact.\n")
    channel = bot.fake.channel()
    refused = bot.fake.inbound(channel, "kb reindex", mention=True)
    await bot.post(refused)
    await bot.idle()
    assert bot.answers(chain_of(refused)) == []
    chat = next(c for c in bot.fake.conversations.values() if c.kind == "personal")
    assert "Only admins can reindex the knowledge base." in bot.answers(chat.id)[-1].text

    asked = bot.fake.inbound(channel, "kb reindex", mention=True, user=ADMIN, name="Grace")
    await bot.post(asked)
    await bot.idle()
    [progress] = bot.answers(channel.id)  # a new thread in the channel, updated in place
    assert len(progress.texts) == 2  # the card with the Cancel button, then the summary
    assert not progress.attachments  # the button went with the run
    assert progress.text.startswith("<p>Reindex of every source finished.")
    assert "1 added, 0 changed, 0 removed, 0 failed, 2 unchanged" in progress.text
