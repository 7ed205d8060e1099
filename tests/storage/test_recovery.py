"""Worker leases and `reclaim` on SQLite and PostgreSQL: replies whose owner is gone are marked
failed exactly once, even when several workers reclaim at the same moment; replies of a live
worker, and finished ones, are never touched; failed replies stay out of the history."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from bot.ports import MessageStatus
from bot.refs import ConversationRef
from storage import SqlStore, open_store
from storage.models import messages
from storage.recovery import INTERRUPTED, WorkerLease


async def _reply(store: SqlStore, ref: ConversationRef, owner: str, status: MessageStatus) -> int:
    row = await store.add_message(ref, role="assistant", text=f"half ({owner})", status=status)
    await store.update_message(row, platform_message_id=f"m-{row}")
    async with store.db.write() as conn:
        await conn.execute(update(messages).where(messages.c.id == row).values(owner=owner))
    return row


async def test_gone_owners_replies_are_reclaimed_once_across_concurrent_workers(
    store: SqlStore, ref: ConversationRef, db_url: str
) -> None:
    await store.add_message(ref, role="user", text="question")
    gone = [await _reply(store, ref, "gone", MessageStatus.STREAMING) for _ in range(5)]
    pending = await _reply(store, ref, "gone", MessageStatus.PENDING)
    live = await _reply(store, ref, "live", MessageStatus.STREAMING)
    done = await _reply(store, ref, "gone", MessageStatus.FINAL)
    await WorkerLease(store.db, "live").heartbeat()

    # Three workers, each with its own engine (as separate processes would be), at once.
    others = [await open_store(db_url) for _ in range(2)]
    try:
        leases = [WorkerLease(s.db, f"worker-{i}") for i, s in enumerate([store, *others])]
        for lease in leases:
            await lease.heartbeat()
        results = await asyncio.gather(*(lease.reclaim() for lease in leases))
    finally:
        for other in others:
            await other.close()

    reclaimed = sorted(orphan.row for result in results for orphan in result)
    assert reclaimed == sorted([*gone, pending])  # each exactly once, none of the others
    orphan = next(o for result in results for o in result)
    assert orphan.ref == ref and orphan.message_id == f"m-{orphan.row}"
    assert orphan.text.startswith("half (gone)")
    async with store.engine.connect() as conn:
        rows = dict((await conn.execute(select(messages.c.id, messages.c.status))).all())
        errors = dict((await conn.execute(select(messages.c.id, messages.c.error))).all())
    assert all(rows[r] == "failed" and errors[r] == INTERRUPTED for r in [*gone, pending])
    assert rows[live] == "streaming" and rows[done] == "final"
    shown = [m.id for m in await store.history(ref.memory_key)]
    assert not set(shown) & {*gone, pending} and {live, done} <= set(shown)  # failed: not shown
    assert await leases[0].reclaim() == []  # nothing twice


async def test_a_retired_worker_is_gone_at_once(store: SqlStore, ref: ConversationRef) -> None:
    row = await _reply(store, ref, "stopping", MessageStatus.STREAMING)
    stopping = WorkerLease(store.db, "stopping")
    await stopping.heartbeat()
    other = WorkerLease(store.db, "other")
    assert await other.reclaim() == []  # the owner's lease is live
    await stopping.retire()
    assert [o.row for o in await other.reclaim()] == [row]
