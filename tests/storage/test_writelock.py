"""The in-process write lock: first come first served, claims first, handed over, never lost."""

from __future__ import annotations

import asyncio

from storage.writelock import WriteLock


async def _hold(lock: WriteLock, name: str, order: list[str], *, urgent: bool = False) -> None:
    async with lock.hold(urgent=urgent):
        order.append(name)
        await asyncio.sleep(0)


async def test_urgent_waiters_go_before_ordinary_ones_then_arrival_order() -> None:
    lock, order = WriteLock(), list[str]()
    async with lock.hold():
        tasks = [asyncio.create_task(_hold(lock, f"w{i}", order)) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(_hold(lock, "claim", order, urgent=True)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["claim", "w0", "w1", "w2"]
    assert not lock.locked


async def test_the_lock_is_handed_over_so_a_newcomer_cannot_barge_in() -> None:
    lock, order = WriteLock(), list[str]()
    async with lock.hold():
        waiter = asyncio.create_task(_hold(lock, "waiter", order))
        await asyncio.sleep(0)
    # Released with a waiter queued: still held on the waiter's behalf.
    assert lock.locked
    newcomer = asyncio.create_task(_hold(lock, "newcomer", order))
    await asyncio.gather(waiter, newcomer)
    assert order == ["waiter", "newcomer"]


async def test_a_cancelled_waiter_leaves_the_queue_and_loses_no_one_the_lock() -> None:
    lock, order = WriteLock(), list[str]()
    async with lock.hold():
        gone = asyncio.create_task(_hold(lock, "gone", order))
        stays = asyncio.create_task(_hold(lock, "stays", order))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
    await stays
    assert gone.cancelled() and order == ["stays"] and not lock.locked


async def test_a_waiter_cancelled_just_as_it_is_handed_the_lock_passes_it_on() -> None:
    lock, order = WriteLock(), list[str]()
    async with lock.hold():
        first = asyncio.create_task(_hold(lock, "first", order))
        second = asyncio.create_task(_hold(lock, "second", order))
        await asyncio.sleep(0)
    first.cancel()  # handed the lock on release, cancelled before it could run
    await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled() and order == ["second"] and not lock.locked
