"""A reply a dead process left streaming is finalized with a notice at start-up, marked failed
and kept out of prompts; a reply whose worker still holds its lease is left alone. On SQLite
and on the PostgreSQL `make test` starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.messages import OutgoingMessage
from bot.ports import MessageStatus
from bot.refs import ConversationKind, ConversationRef
from storage import open_store
from storage.models import messages
from storage.recovery import WorkerLease
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi
from tests.security.conftest import start_bot
from tests.storage.conftest import empty_database

REF = ConversationRef(
    platform="slack",
    workspace_id="T0FAKE",
    channel_id="C0GENERAL",
    thread_id="1700000000.000100",
    kind=ConversationKind.THREAD,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with empty_database(request.param, tmp_path) as url:
        yield url


async def test_restart_finalizes_what_a_gone_worker_left_and_spares_a_live_one(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI, db_url: str
) -> None:
    first = await start_bot(tmp_path, fake_slack, fake_openai, database_url=db_url)
    posted = {}
    for owner in ("gone-worker", "live-worker"):
        handle = await first.adapter.send(REF, OutgoingMessage.text(f"Half an ans ({owner})"))
        posted[owner] = handle.message_id
    url = first.app.settings.sqlalchemy_url
    await first.sender.__aexit__()
    await first.app.stop()

    # What two other workers left: one holds a live lease, the other none.
    store = await open_store(url)
    rows = {}
    for owner, message_id in posted.items():
        row = await store.add_message(
            REF, role="assistant", text=f"Half an ans ({owner})", status=MessageStatus.STREAMING
        )
        await store.update_message(row, platform_message_id=message_id)
        async with store.db.write() as conn:
            await conn.execute(update(messages).where(messages.c.id == row).values(owner=owner))
        rows[owner] = (row, message_id)
    await WorkerLease(store.db, "live-worker").heartbeat()
    await store.close()

    second = await start_bot(tmp_path, fake_slack, fake_openai, database_url=db_url)
    # (recovery ran in start())
    try:
        gone = fake_slack.find("C0GENERAL", rows["gone-worker"][1])
        live = fake_slack.find("C0GENERAL", rows["live-worker"][1])
        assert gone is not None and live is not None
        assert gone.text.startswith("Half an ans (gone-worker)") and "interrupted" in gone.text
        assert "interrupted" not in live.text
        async with second.app.store.engine.connect() as conn:
            status = dict(
                (
                    await conn.execute(
                        messages.select().with_only_columns(messages.c.id, messages.c.status)
                    )
                ).all()
            )
        assert status[rows["gone-worker"][0]] == "failed"
        assert status[rows["live-worker"][0]] == "streaming"
        history = await second.app.store.history(REF.memory_key)
        assert "Half an ans (gone-worker)" not in [m.text for m in history]  # out of prompts
    finally:
        await second.sender.__aexit__()
        await second.app.stop()
