"""Knowledge admin on Discord, through the real adapter and the fake Discord API: `/kb reindex`
from a non-admin is refused ephemerally; from an admin its one progress message (ephemeral, as
every `/kb` answer is on Discord) is edited into the summary; `/kb status` is ephemeral."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Parley
from tests.core.kb_rig import write_corpus
from tests.discord.test_e2e import Bot, fast_adapter, settings_for
from tests.fakes.discord_api import CHANNEL_ID, OTHER_USER_ID, USER_ID, FakeDiscord
from tests.fakes.openai_api import FakeOpenAI


@pytest.fixture
async def bot(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    corpus = write_corpus(tmp_path / "corpus", 3)
    settings = settings_for(
        tmp_path,
        fake_discord,
        fake_openai,
        admin_users=(f"discord:{OTHER_USER_ID}",),
        embedding_model="hashing-256",
        knowledge_paths=(str(corpus),),
    )
    adapter = fast_adapter(fake_discord)
    app = Parley(settings, adapters=[adapter], load_platforms=False)
    await app.start(http=False)
    await app.wait_indexed()
    b = Bot(app=app, adapter=adapter, fake=fake_discord, llm=fake_openai)
    yield b
    await app.stop()


async def test_kb_admin_on_discord(bot: Bot, tmp_path: Path) -> None:
    (tmp_path / "corpus" / "new.md").write_text("# New\n\nA new fact.\n")
    refused = await bot.fake.slash("kb", [{"type": 1, "name": "reindex"}], user_id=USER_ID)
    await bot.idle()
    note = bot.fake.messages[refused.original_id]
    assert note.ephemeral and "Only admins can reindex the knowledge base." in note.content
    assert bot.answers() == []

    started = await bot.fake.slash("kb", [{"type": 1, "name": "reindex"}], user_id=OTHER_USER_ID)
    await bot.idle()
    assert bot.answers(CHANNEL_ID) == []  # `/kb` answers are the admin's own (ephemeral)
    progress = bot.fake.messages[started.original_id]
    assert progress.ephemeral and progress.edits[0] == "Reindexing every source… starting…"
    assert progress.content.startswith("Reindex of every source finished.")
    assert "1 added, 0 changed, 0 removed, 0 failed, 3 unchanged" in progress.content
    assert not progress.components  # the Cancel button is gone with the run

    status = await bot.fake.slash("kb", [{"type": 1, "name": "status"}], user_id=OTHER_USER_ID)
    await bot.idle()
    shown = bot.fake.messages[status.original_id]
    assert shown.ephemeral and "Documents: 4" in shown.content
    assert "Last reindex:" in shown.content
