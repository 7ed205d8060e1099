"""Group-committed event claims: one statement for a burst, the same answers as one-by-one."""

from __future__ import annotations

import asyncio

import pytest

from storage.claims import ClaimBatcher


async def test_a_burst_is_one_insert_and_repeats_are_not_new() -> None:
    seen: set[str] = {"old"}
    calls: list[list[str]] = []

    async def insert_many(ids):
        calls.append(list(ids))
        await asyncio.sleep(0.01)
        new = {i for i in ids if i not in seen}
        seen.update(ids)
        return new

    batcher = ClaimBatcher(insert_many)
    ids = [f"e{i}" for i in range(100)] + ["e1", "old"]
    results = await asyncio.gather(*(batcher.claim(i) for i in ids))
    assert results[:100] == [True] * 100
    assert results[100:] == [False, False]
    assert len(calls) == 1
    assert await batcher.claim("e5") is False and await batcher.claim("fresh") is True


async def test_claims_during_a_commit_join_the_next_batch() -> None:
    calls: list[list[str]] = []
    gate = asyncio.Event()

    async def insert_many(ids):
        calls.append(list(ids))
        if len(calls) == 1:
            await gate.wait()
        return set(ids)

    batcher = ClaimBatcher(insert_many)
    first = asyncio.create_task(batcher.claim("a"))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(batcher.claim(x)) for x in ("b", "c", "d")]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first is True and await asyncio.gather(*later) == [True, True, True]
    assert calls == [["a"], ["b", "c", "d"]]


async def test_a_failed_commit_fails_its_claims_loudly() -> None:
    async def insert_many(ids):
        raise ConnectionError("database down")

    batcher = ClaimBatcher(insert_many)
    with pytest.raises(ConnectionError):
        await batcher.claim("x")
