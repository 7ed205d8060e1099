"""Fixtures for the delivery engine: a FakeClock, a strict in-memory adapter, a Delivery; and
`make(clock, caps(...))` for a pair with other capabilities.

The fixture's engine posts a reply's placeholder at once (`first_post_wait_s=0`), so tests of
editing, pacing and rollover start from a posted message; `make(..., wait=1.0)` is the default
engine, whose first post waits for the first text."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from bot.capabilities import Capabilities
from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from bot.refs import MessageHandle
from tests.fakes.memory_adapter import SLACK_LIKE, MemoryAdapter, ref


def caps(**changes: object) -> Capabilities:
    return dataclasses.replace(SLACK_LIKE, **changes)  # type: ignore[arg-type]


def make(
    clock: FakeClock,
    capabilities: Capabilities = SLACK_LIKE,
    *,
    wait: float = 0.0,
    native_streaming: bool = False,
    **kwargs: object,
) -> tuple[MemoryAdapter, Delivery]:
    adapter = MemoryAdapter(capabilities, clock=clock, **kwargs)  # type: ignore[arg-type]
    delivery = Delivery(
        adapter, clock=clock, first_post_wait_s=wait, native_streaming=native_streaming
    )
    return adapter, delivery


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def adapter(clock: FakeClock) -> MemoryAdapter:
    return MemoryAdapter(SLACK_LIKE, clock=clock)


@pytest.fixture
def delivery(adapter: MemoryAdapter, clock: FakeClock) -> Delivery:
    return Delivery(adapter, clock=clock, first_post_wait_s=0.0)


async def started(reply: StreamingReply) -> MessageHandle:
    """Start `reply` and wait for its first message (the placeholder with a zero wait)."""
    reply.start()
    while not reply.handles:  # noqa: ASYNC110 (the reply has no event for it)
        await asyncio.sleep(0)
    return reply.handles[0]


async def stream(reply: StreamingReply, clock: FakeClock, chunks: list[str], every_s: float) -> str:
    """Play an LLM: one chunk every `every_s` virtual seconds; returns the whole text."""
    text = ""
    for chunk in chunks:
        await clock.sleep(every_s)
        text += chunk
        reply.set_text(text)
    return text


async def spread_over_messages(clock: FakeClock) -> tuple[MemoryAdapter, StreamingReply, str]:
    """A reply streamed over several 60-character messages (for rewrites that need fewer);
    returns the platform, the reply (not finished) and the streamed text."""
    adapter, delivery = make(clock, caps(max_edit_chars=60, max_post_chars=60))
    reply = delivery.reply(ref())
    await started(reply)
    streamed = await stream(reply, clock, ["  " + "a " * 20, "b " * 20, "c " * 20], 2.0)
    await clock.sleep(5.0)
    return adapter, reply, streamed
