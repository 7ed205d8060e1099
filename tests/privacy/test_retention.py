"""The retention purge on SQLite and PostgreSQL, time moved by passing a later `now`: content
past RETENTION_DAYS goes (whole idle conversations; old messages of live ones, with the summary
built from them), records past AUDIT_RETENTION_DAYS go, and what is younger or still pending
stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.ports import Summary
from storage import SqlStore
from storage.approvals import tool_approvals
from storage.models import conversations, messages
from storage.retention import SqlRetention
from tests.privacy.seed import BOB, BOB_DM, CHANNEL, dump, seed


async def _age(store: SqlStore, days: int) -> None:
    """Make every row `days` older than now."""
    then = datetime.now(UTC) - timedelta(days=days)
    async with store.db.write() as conn:
        await conn.execute(update(messages).values(created_at=then, updated_at=then))
        await conn.execute(update(conversations).values(updated_at=then))


async def test_retention_purge_by_age(store: SqlStore) -> None:
    await seed(store)
    retention = SqlRetention(store.db, days=90, audit_days=365)
    now = datetime.now(UTC)

    nothing = await retention.purge(now + timedelta(days=89))
    assert (nothing.conversations, nothing.messages, nothing.approvals, nothing.audit) == (
        0,
        0,
        0,
        0,
    )
    assert len((await dump(store))["messages"]) == 12

    # Ninety-one days on, the channel is still in use: a new message keeps it, and the old
    # messages go with the summary built from them; the idle conversations go whole.
    await _age(store, 91)
    await store.add_message(CHANNEL, role="user", text="bob-6 still here?", author=BOB)
    report = await retention.purge(now)
    rows = await dump(store)
    assert [m["text"] for m in rows["messages"]] == ["bob-6 still here?"]
    assert [c["memory_key"] for c in rows["conversations"]] == [CHANNEL.memory_key]
    assert rows["conversations"][0]["summary"] is None
    assert (report.conversations, report.messages, report.summaries) == (3, 12, 1)
    # Records are younger than a year: kept.
    assert report.approvals == report.audit == 0
    assert len(rows["tool_approvals"]) == 2 and len(rows["admin_audit"]) == 2

    # A year and a day on: decided approvals and audit go, a pending one stays.
    async with store.db.write() as conn:
        await conn.execute(
            update(tool_approvals)
            .where(tool_approvals.c.id == "b" * 16)
            .values(status="pending", decided_by=None)
        )
    report = await retention.purge(now + timedelta(days=366))
    rows = await dump(store)
    assert [a["id"] for a in rows["tool_approvals"]] == ["b" * 16]
    assert [t["turn_id"] for t in rows["paused_turns"]] == ["turn-bob"]
    assert rows["approval_audit"] == [] and rows["admin_audit"] == []
    assert (report.approvals, report.audit) == (1, 6)
    assert rows["usage_records"] != []  # usage is accounting, not content


async def test_a_summary_newer_than_the_horizon_stays(store: SqlStore) -> None:
    old = await store.add_message(BOB_DM, role="user", text="bob-7 old", author=BOB)
    await _age(store, 100)
    newer = await store.add_message(BOB_DM, role="user", text="bob-8 new", author=BOB)
    await store.save_summary(
        BOB_DM.memory_key, Summary(text="Bob said hi.", through_message_id=newer)
    )
    report = await SqlRetention(store.db, days=90, audit_days=0).purge(datetime.now(UTC))
    assert report.messages == 1 and report.summaries == 1  # it covered the old message too
    assert [m.id for m in await store.history(BOB_DM.memory_key)] == [newer]
    assert old != newer


async def test_zero_days_keeps_everything(store: SqlStore) -> None:
    await seed(store)
    await _age(store, 10_000)
    report = await SqlRetention(store.db, days=0, audit_days=0).purge(datetime.now(UTC))
    assert report.render().startswith("purged 0 conversations, 0 messages")
    assert len((await dump(store))["messages"]) == 12
