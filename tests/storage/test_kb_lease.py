"""The reindex lease and the sources table on SQLite and PostgreSQL: one winner among processes
racing for the lease, cancel requests seen by the holder's heartbeat, an expired holder replaced
(and told so), the last run kept after release; sources added once and stamped when indexed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.ports import KnowledgeSource, LastReindex
from storage import SqlStore, open_store
from storage.kb_admin import SqlReindexLease, SqlSourceRegistry


def _last(actor: str) -> LastReindex:
    return LastReindex(
        actor=actor,
        target="",
        finished_at=datetime.now(UTC),
        outcome="ok",
        headline="1 added",
    )


async def test_one_of_five_processes_racing_gets_the_lease(db_url: str) -> None:
    stores = [await open_store(db_url) for _ in range(5)]
    try:
        leases = [SqlReindexLease(s.db) for s in stores]
        results = await asyncio.gather(
            *(lease.acquire(f"run{i}", actor=f"p{i}", target="") for i, lease in enumerate(leases))
        )
        winners = [i for i, holder in enumerate(results) if holder is None]
        assert len(winners) == 1
        assert {h.run_id for h in results if h is not None} == {f"run{winners[0]}"}
    finally:
        for s in stores:
            await s.close()


async def test_heartbeat_carries_progress_and_cancel_then_release_frees(store: SqlStore) -> None:
    lease = SqlReindexLease(store.db)
    assert await lease.acquire("r1", actor="Ada (slack:U1)", target="docs") is None
    assert await lease.heartbeat("r1", {"documents": 3.0, "documents_total": 9.0}) == ""
    holder = await lease.holder()
    assert holder is not None and holder.progress == {"documents": 3.0, "documents_total": 9.0}
    assert (holder.actor, holder.target) == ("Ada (slack:U1)", "docs")

    asked = await lease.request_cancel("Bob (slack:U2)")
    assert asked is not None and asked.run_id == "r1"
    assert await lease.heartbeat("r1", {}) == "Bob (slack:U2)"

    await lease.release("r1", _last("Ada (slack:U1)"))
    assert await lease.holder() is None
    assert await lease.request_cancel("Bob") is None
    last = await lease.last()
    assert last is not None and (last.actor, last.outcome, last.headline) == (
        "Ada (slack:U1)",
        "ok",
        "1 added",
    )
    assert await lease.acquire("r2", actor="scheduled", target="") is None


async def test_an_expired_holder_is_replaced_and_learns_it(store: SqlStore) -> None:
    stale = SqlReindexLease(store.db, lease_s=0.0)
    assert await stale.acquire("dead", actor="killed process", target="") is None
    await asyncio.sleep(0.01)
    lease = SqlReindexLease(store.db)
    assert await lease.acquire("next", actor="scheduled", target="") is None
    assert await stale.heartbeat("dead", {}) is None  # not its lease any more
    await stale.release("dead", _last("killed process"))  # too late: changes nothing
    holder = await lease.holder()
    assert holder is not None and holder.run_id == "next"
    assert await lease.last() is None


async def test_sources_are_added_once_and_stamped_when_indexed(store: SqlStore) -> None:
    registry = SqlSourceRegistry(store.db)
    url = KnowledgeSource(path="/data/kb-added/x.html", source="https://x/", kind="url")
    assert await registry.add(url)
    assert not await registry.add(url)
    await registry.mark_indexed(["/srv/handbook", url.path], outcome="ok")
    found = {s.path: s for s in await registry.sources()}
    assert found["/srv/handbook"].kind == "configured"
    assert found[url.path].source == "https://x/" and found[url.path].last_outcome == "ok"
    assert found[url.path].last_indexed_at is not None
    await registry.remove(url.path)
    assert [s.path for s in await registry.sources()] == ["/srv/handbook"]
