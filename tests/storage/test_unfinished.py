"""Replies a dead process left streaming are closed as failed; live ones are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.ports import MessageStatus
from bot.refs import ConversationRef
from storage import open_store
from storage.models import messages

REF = ConversationRef(platform="memory", workspace_id="T", channel_id="C")


async def test_close_unfinished_only_touches_stale_replies(tmp_path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'u.db'}")
    try:
        await store.add_message(REF, role="user", text="q1")
        dead = await store.add_message(
            REF, role="assistant", text="half", status=MessageStatus.STREAMING
        )
        live = await store.add_message(
            REF, role="assistant", text="growing", status=MessageStatus.STREAMING
        )
        async with store.db.write() as conn:
            old = datetime.now(UTC) - timedelta(hours=1)
            await conn.execute(update(messages).where(messages.c.id == dead).values(updated_at=old))

        closed = await store.close_unfinished(
            stale_before=datetime.now(UTC) - timedelta(minutes=10)
        )

        assert closed == 1
        visible = {m.id: m.status for m in await store.history(REF.memory_key)}
        assert dead not in visible  # failed replies are left out of memory
        assert visible[live] is MessageStatus.STREAMING
    finally:
        await store.close()
