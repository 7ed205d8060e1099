from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle
from bot.scheduling import JobScheduler
from bot.tools.builtin.schedule import (
    MessageScheduler,
    parse_when,
    register_poster,
    schedule_message_tool,
    sync_database_url,
    unregister_poster,
)
from bot.tools.registry import ToolContext

REF = ConversationRef(
    platform="console", workspace_id="local", channel_id="console", thread_id=None
)


class Poster:
    def __init__(self) -> None:
        self.posted: list[tuple[ConversationRef, str]] = []
        self.arrived = asyncio.Event()

    async def post(self, ref: ConversationRef, message: OutgoingMessage) -> MessageHandle:
        self.posted.append((ref, message.text_markdown))
        self.arrived.set()
        return MessageHandle(ref=ref, message_id="x")


def test_sync_url_and_time_parsing() -> None:
    assert sync_database_url("sqlite+aiosqlite:////tmp/p.db") == "sqlite:////tmp/p.jobs.db"
    assert sync_database_url("sqlite+aiosqlite:////tmp/parley") == "sqlite:////tmp/parley.jobs"
    assert sync_database_url("postgresql+psycopg://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert parse_when("2030-01-01T09:00:00Z") == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert parse_when("2030-01-01T09:00") == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert parse_when("2030-01-01T10:00+01:00") == datetime(2030, 1, 1, 9, tzinfo=UTC)


async def test_job_survives_a_restart_and_posts(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"
    first = MessageScheduler(JobScheduler(url), poster_key="t1")
    first.start()
    tool = schedule_message_tool(first)
    now = datetime.now(UTC)
    ctx = ToolContext(
        ref=REF, author=Author(id="u", display_name="Ada"), call_id="c1", turn_id="t", now=now
    )
    assert tool.precheck is not None and "ISO 8601" in (tool.precheck({"at": "tomorrow"}) or "")
    with pytest.raises(ValueError, match="in the past"):
        await tool.run({"text": "hi", "at": (now - timedelta(minutes=1)).isoformat()}, ctx)
    when = now + timedelta(seconds=1.5)
    out = await tool.run({"text": "Stand-up time!", "at": when.isoformat()}, ctx)
    assert out.startswith("Scheduled for ")
    first.shutdown()  # the process "stops" before the job is due

    poster = Poster()
    register_poster("t1", poster)
    second = MessageScheduler(JobScheduler(url), poster_key="t1")
    try:
        second.start()
        assert [job_id for job_id, _ in second.scheduled()] == ["msg-c1"]
        await asyncio.wait_for(poster.arrived.wait(), timeout=10)
    finally:
        second.shutdown()
        unregister_poster("t1")
    [(ref, text)] = poster.posted
    assert ref == REF and text.startswith("Stand-up time!") and "scheduled by Ada" in text
