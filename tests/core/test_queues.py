from __future__ import annotations

import asyncio

from bot.core.queues import ConversationQueues


async def test_one_key_in_order_and_keys_concurrently() -> None:
    queues = ConversationQueues()
    log: list[str] = []
    gate = asyncio.Event()

    async def job(name: str, wait: bool = False) -> None:
        log.append(f"start {name}")
        if wait:
            await gate.wait()
        log.append(f"end {name}")

    queues.submit("a", lambda: job("a1", wait=True))
    queues.submit("a", lambda: job("a2"))
    done_b = queues.submit("b", lambda: job("b1"))
    await done_b
    assert "end b1" in log and "start a2" not in log  # b ran while a1 was still waiting
    gate.set()
    await queues.drain()
    assert log.index("end a1") < log.index("start a2")
    assert queues.active == 0


async def test_a_crashing_job_does_not_stop_the_conversation() -> None:
    queues = ConversationQueues()
    ran: list[int] = []

    async def boom() -> None:
        raise RuntimeError("x")

    async def ok() -> None:
        ran.append(1)

    queues.submit("k", boom)
    await queues.submit("k", ok)
    assert ran == [1]
