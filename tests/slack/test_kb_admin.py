"""Knowledge admin on Slack, end to end: signed events to the server `Parley` starts, the real
Slack adapter against the fake Web API, the real knowledge base. A non-admin is refused
ephemerally; an admin's `kb reindex` is one message edited in place with `chat.update`, whose
Cancel button (a signed `block_actions`) stops the run; `kb status` and `kb sources` answer
ephemerally."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.slack.adapter import SlackAdapter
from bot.app import Parley
from bot.settings import Settings
from tests.core.kb_rig import GatedEmbedder, until, write_corpus
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import (
    FakeMessage,
    FakeSlackApi,
    SlackEventSender,
    block_actions_payload,
)
from tests.slack.test_e2e import CHANNEL, SECRET, Bot, stop_bot

ADMIN = "U0ADMIN1"
GUEST = "U0USER1"


@pytest.fixture
async def bot(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Bot, GatedEmbedder]]:
    corpus = write_corpus(tmp_path / "corpus")
    embedder = GatedEmbedder()

    def settings(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI) -> Settings:
        return Settings(
            _env_file=None,
            data_dir=tmp_path / "data",
            host="127.0.0.1",
            port=0,
            slack_bot_token=fake.token,
            slack_signing_secret=SECRET,
            slack_api_url=fake.api_url,
            admin_users=(f"slack:{ADMIN}",),
            embedding_model="hashing-256",
            knowledge_paths=(str(corpus),),
            **llm.settings_overrides(),
        )

    monkeypatch.setattr("knowledge.make_embedder", lambda name, settings: embedder)
    app = Parley(settings(tmp_path, fake_slack, fake_openai))
    await app.start()
    slack = app.adapters["slack"]
    assert isinstance(slack, SlackAdapter)
    sender = SlackEventSender(f"http://127.0.0.1:{app.http_port}/slack/events", SECRET)
    await sender.__aenter__()
    b = Bot(app=app, adapter=slack, fake=fake_slack, llm=fake_openai, sender=sender)
    assert b.app.knowledge is not None
    b.app.knowledge.config = dataclasses.replace(b.app.knowledge.config, batch_chunks=1)
    await b.app.wait_indexed()
    assert b.app.reindexer is not None
    b.app.reindexer.interval_s = 0.05
    yield b, embedder
    embedder.open()
    await stop_bot(b)


def button_value(message: FakeMessage) -> str:
    for block in message.blocks:
        for element in block.get("elements") or ():
            if element.get("type") == "button":
                return str(element["value"])
    raise AssertionError(f"no button on {message.text!r}")


async def test_kb_admin_on_slack(bot: tuple[Bot, GatedEmbedder], tmp_path: Path) -> None:
    b, embedder = bot
    for n in (1, 2, 3):
        (tmp_path / "corpus" / f"extra{n}.md").write_text(f"# Extra {n}\n\nOne more fact.\n")
    (tmp_path / "corpus" / "doc0.md").write_text("# Topic 0\n\nA changed fact.\n")

    await b.mention("kb reindex", user=GUEST)
    await b.idle()
    [refusal] = b.fake.ephemerals
    assert refusal["user"] == GUEST and "Only admins can reindex" in json.dumps(refusal)
    assert b.fake.bot_messages(CHANNEL) == []

    embedder.hold()
    await b.mention("kb reindex", user=ADMIN)
    await until(lambda: len(b.fake.bot_messages(CHANNEL)) == 1)
    [progress] = b.fake.bot_messages(CHANNEL)
    assert progress.text.startswith("Reindexing every source…")
    run_id = button_value(progress)

    embedder.let_through(1)
    await until(lambda: any("/9 documents" in e and "1 chunk" in e for e in progress.edits))
    assert len(b.fake.calls_to("chat.update")) >= 1  # edited in place, no new message

    click = block_actions_payload(
        "cancel", run_id, channel=CHANNEL, message_ts=progress.ts, user_id=GUEST
    )
    assert (await b.sender.action(click))[0] == 200
    await until(lambda: len(b.fake.ephemerals) == 2)
    assert "Only admins can cancel a reindex" in json.dumps(b.fake.ephemerals[-1])

    click = block_actions_payload(
        "cancel", run_id, channel=CHANNEL, message_ts=progress.ts, user_id=ADMIN
    )
    assert (await b.sender.action(click))[0] == 200
    await until(lambda: len(b.fake.ephemerals) == 3)
    embedder.open()
    await b.idle()
    assert progress.text.startswith("Reindex of every source cancelled by")
    assert not any(block.get("elements") for block in progress.blocks)  # no button left
    assert len(b.fake.bot_messages(CHANNEL)) == 1

    await b.mention("kb reindex", user=ADMIN)
    await b.idle()
    summary = b.fake.bot_messages(CHANNEL)[-1].text
    assert "Reindex of every source finished." in summary
    assert "2 added, 0 changed, 0 removed, 0 failed, 7 unchanged" in summary  # resumed

    await b.mention("kb status", user=ADMIN)
    await b.mention("kb sources", user=ADMIN)
    await b.idle()
    status, sources = (json.dumps(e) for e in b.fake.ephemerals[-2:])
    assert "No reindex is running." in status and "Last reindex:" in status
    assert "KNOWLEDGE_PATHS" in sources and "9 documents" in sources
