"""The shared per-scope rate budget: sliding window, priority order, 429 pauses, on a FakeClock."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.capabilities import RateScope
from bot.clock import FakeClock
from bot.delivery.budget import Priority, RateBudget, Ticket, scope_key
from tests.fakes.memory_adapter import ref


async def use(
    budget: RateBudget,
    clock: FakeClock,
    priority: Priority,
    log: list[tuple[str, float]],
    name: str,
) -> None:
    ticket = Ticket(priority)
    await budget.acquire(ticket)
    log.append((name, round(clock.now() - 1000.0, 3)))  # slots free 1 µs after the window
    budget.release(ticket)


async def test_at_most_limit_per_window(clock: FakeClock) -> None:
    budget = RateBudget(limit=5, window_s=10.0, clock=clock)
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(use(budget, clock, Priority.FINAL, log, str(i)) for i in range(12)))
    assert [t for _, t in log] == [0.0] * 5 + [10.0] * 5 + [20.0] * 2
    assert [name for name, _ in log] == [str(i) for i in range(12)]  # FIFO within a class


async def test_streaming_edits_are_paced_and_leave_a_reserve(clock: FakeClock) -> None:
    budget = RateBudget(limit=50, window_s=60.0, clock=clock)
    assert budget.reserve == 5
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(use(budget, clock, Priority.STREAM, log, str(i)) for i in range(60)))
    times = [t for _, t in log]
    assert times[:9] == [0.0] * 9  # a small burst
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times[9:45])]
    assert set(gaps) == {round(60.0 / 45, 2)}  # then the window's pace
    in_first_window = [t for t in times if t < 60.0]
    assert len(in_first_window) <= 45  # the reserve stays free for finals
    final_log: list[tuple[str, float]] = []
    await use(budget, clock, Priority.FINAL, final_log, "final")
    assert final_log == [("final", times[-1])]  # no wait: the reserve was free


async def test_final_goes_before_waiting_stream(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=5.0, clock=clock)
    log: list[tuple[str, float]] = []
    first = Ticket(Priority.FINAL)
    await budget.acquire(first)
    budget.release(first)
    waiting = [
        asyncio.create_task(use(budget, clock, Priority.STREAM, log, f"s{i}")) for i in range(3)
    ]
    await asyncio.sleep(0)
    final = asyncio.create_task(use(budget, clock, Priority.FINAL, log, "final"))
    await asyncio.gather(*waiting, final)
    assert log == [("final", 5.0), ("s0", 10.0), ("s1", 15.0), ("s2", 20.0)]


async def test_promote_a_waiting_ticket(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=5.0, clock=clock)
    hold = Ticket(Priority.FINAL)
    await budget.acquire(hold)
    budget.release(hold)
    order: list[str] = []

    async def wait(ticket: Ticket, name: str) -> None:
        await budget.acquire(ticket)
        order.append(name)
        budget.release(ticket)

    a, b = Ticket(Priority.STREAM), Ticket(Priority.STREAM)
    tasks = [asyncio.create_task(wait(a, "a")), asyncio.create_task(wait(b, "b"))]
    await asyncio.sleep(0)
    budget.promote(b)
    await asyncio.gather(*tasks)
    assert order == ["b", "a"]


async def test_429_pauses_the_scope(clock: FakeClock) -> None:
    budget = RateBudget(limit=100, window_s=60.0, clock=clock)
    ticket = Ticket(Priority.STREAM)
    await budget.acquire(ticket)
    budget.release(ticket, retry_after=7.5)
    log: list[tuple[str, float]] = []
    await use(budget, clock, Priority.FINAL, log, "next")
    assert log == [("next", 7.5)]


async def test_in_flight_calls_count_until_released(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=2.0, clock=clock)
    slow = Ticket(Priority.STREAM)
    await budget.acquire(slow)
    log: list[tuple[str, float]] = []
    waiter = asyncio.create_task(use(budget, clock, Priority.FINAL, log, "next"))
    await clock.sleep(5.0)  # the slow call is still running: nothing may go
    assert log == []
    budget.release(slow)  # finished at +5: its slot counts until +7
    await waiter
    assert log == [("next", 7.0)]


async def test_cancelled_waiter_leaves_the_queue(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=5.0, clock=clock)
    hold = Ticket(Priority.FINAL)
    await budget.acquire(hold)
    budget.release(hold)
    log: list[tuple[str, float]] = []
    doomed = asyncio.create_task(use(budget, clock, Priority.FINAL, log, "doomed"))
    await asyncio.sleep(0)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await use(budget, clock, Priority.STREAM, log, "next")
    assert log == [("next", 5.0)]
    assert not budget.idle


async def test_a_bucket_allows_its_burst_then_its_rate(clock: FakeClock) -> None:
    # Slack's posts per channel: three at once, then one a second (a 3-per-3 s window would
    # hold the fourth for 3 s).
    budget = RateBudget(limit=1, window_s=1.0, clock=clock, burst=3)
    log: list[tuple[str, float]] = []
    await asyncio.gather(*(use(budget, clock, Priority.FINAL, log, str(i)) for i in range(6)))
    assert [t for _, t in log] == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    assert not budget.idle  # the bucket is not full again yet
    await clock.sleep(3.0)
    assert budget.idle


async def test_a_bucket_counts_a_call_from_its_finish(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=1.0, clock=clock, burst=1)
    slow = Ticket(Priority.FINAL)
    await budget.acquire(slow)
    log: list[tuple[str, float]] = []
    waiter = asyncio.create_task(use(budget, clock, Priority.FINAL, log, "next"))
    await clock.sleep(2.5)  # the platform may count the call only when it arrives
    assert log == []
    budget.release(slow)
    await waiter
    assert log == [("next", 3.5)]


async def test_a_bucket_token_unused_goes_back_and_a_429_pauses_it(clock: FakeClock) -> None:
    budget = RateBudget(limit=1, window_s=1.0, clock=clock, burst=1)
    unused = Ticket(Priority.FINAL)
    await budget.acquire(unused)
    budget.release(unused, used=False)
    log: list[tuple[str, float]] = []
    await use(budget, clock, Priority.FINAL, log, "at once")
    refused = Ticket(Priority.FINAL)
    await budget.acquire(refused)  # waits for the refill
    budget.release(refused, retry_after=4.0)
    await use(budget, clock, Priority.FINAL, log, "after the pause")
    assert log == [("at once", 0.0), ("after the pause", 5.0)]


def test_scope_keys() -> None:
    a = ref("C1", thread="t1")
    b = ref("C2", thread="t1")
    assert scope_key(a, RateScope.WORKSPACE) == scope_key(b, RateScope.WORKSPACE)
    assert scope_key(a, RateScope.CHANNEL) != scope_key(b, RateScope.CHANNEL)
    assert scope_key(a, RateScope.THREAD) != scope_key(a.in_thread("t2"), RateScope.THREAD)
    assert scope_key(a, RateScope.CHANNEL) == scope_key(a.in_thread("t2"), RateScope.CHANNEL)
