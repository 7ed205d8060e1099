"""Dedupe and writes under concurrency: two engines (as two workers would have) on one database."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.refs import ConversationRef
from storage import SqlStore, open_store
from storage.models import conversations


@pytest.fixture
async def two_stores(db_url: str) -> AsyncIterator[tuple[SqlStore, SqlStore]]:
    first = await open_store(db_url)
    second = await open_store(db_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_one_claim_wins_across_engines(two_stores: tuple[SqlStore, SqlStore]) -> None:
    first, second = two_stores
    claims = [store.claim_event("Ev-race") for _ in range(25) for store in (first, second)]
    results = await asyncio.gather(*claims)
    assert results.count(True) == 1
    assert len(results) == 50


async def test_many_events_claimed_concurrently(two_stores: tuple[SqlStore, SqlStore]) -> None:
    first, second = two_stores
    claims = [(first if i % 2 else second).claim_event(f"Ev{i}") for i in range(60)]
    assert all(await asyncio.gather(*claims))
    repeats = [(second if i % 2 else first).claim_event(f"Ev{i}") for i in range(60)]
    assert not any(await asyncio.gather(*repeats))


async def test_concurrent_writers_lose_nothing(
    two_stores: tuple[SqlStore, SqlStore], ref: ConversationRef
) -> None:
    first, second = two_stores
    created = await asyncio.gather(*(s.ensure_conversation(ref) for s in (first, second) * 5))
    assert created.count(True) == 1

    async def write(store: SqlStore, n: int) -> None:
        await store.add_message(ref, role="user", text=f"m{n}")
        await store.record_usage(ref, provider="p", model="m", input_tokens=1, output_tokens=2)

    await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(40)))
    history = await first.history(ref.memory_key)
    assert sorted(m.text for m in history) == sorted(f"m{n}" for n in range(40))
    assert [m.id for m in history] == sorted(m.id for m in history)


async def test_concurrent_first_writes_create_one_conversation(
    two_stores: tuple[SqlStore, SqlStore], ref: ConversationRef
) -> None:
    """No ensure_conversation first: the writes' upserts race to create the row."""
    first, second = two_stores

    async def write(store: SqlStore, n: int) -> None:
        if n % 3:
            await store.add_message(ref, role="user", text=f"m{n}")
        else:
            await store.record_usage(ref, provider="p", model="m", input_tokens=1, output_tokens=2)

    await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(30)))
    assert await first.ensure_conversation(ref) is False
    assert len(await second.history(ref.memory_key)) == 20

    c = conversations.c
    async with first.engine.connect() as conn:
        totals = (
            await conn.execute(
                select(c.input_tokens, c.output_tokens).where(c.memory_key == ref.memory_key)
            )
        ).one()
    assert tuple(totals) == (10, 20)


REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
_WORKER = """
import asyncio, sys
from storage import open_store

async def main(url: str) -> None:
    store = await open_store(url)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    results = await asyncio.gather(*(store.claim_event("Ev-processes") for _ in range(10)))
    await store.close()
    print(sum(results), flush=True)

asyncio.run(main(sys.argv[1]))
"""


@pytest.mark.slow
async def test_one_claim_wins_across_processes(db_url: str) -> None:
    """Workers are separate processes: the database alone decides who claimed an event."""
    await (await open_store(db_url)).close()  # migrate first, so the workers only claim
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WORKER,
            db_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        for _ in range(WORKERS)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    outputs = await asyncio.wait_for(
        asyncio.gather(*(worker.communicate(b"go\n") for worker in workers)), 60
    )
    assert [w.returncode for w in workers] == [0] * WORKERS
    assert sum(int(out.strip()) for out, _ in outputs) == 1


async def test_a_claim_is_not_queued_behind_waiting_writers(
    store: SqlStore, ref: ConversationRef
) -> None:
    """A user sees nothing until their event is claimed; turns' writes can wait."""
    done: list[str] = []

    async def write(n: int) -> None:
        await store.add_message(ref, role="user", text=f"m{n}")
        done.append(f"m{n}")

    async def claim() -> None:
        assert await store.claim_event("Ev-urgent")
        done.append("claim")

    await store.ensure_conversation(ref)
    c = conversations.c
    async with store.db.write() as conn:  # a turn's transaction under way, holding its row
        await conn.execute(
            update(conversations).where(c.memory_key == ref.memory_key).values(summary="x")
        )
        writers = [asyncio.create_task(write(n)) for n in range(3)]
        await asyncio.sleep(0.05)
        claimed = asyncio.create_task(claim())
        await asyncio.sleep(0.05)
    await asyncio.gather(*writers, claimed)
    assert done[0] == "claim"
    assert sorted(done[1:]) == ["m0", "m1", "m2"]
