"""Fixtures for the delivery engine: a FakeClock, a strict in-memory adapter, a Delivery; and
`make(clock, caps(...))` for a pair with other capabilities."""

from __future__ import annotations

import dataclasses

import pytest

from bot.capabilities import Capabilities
from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from tests.fakes.memory_adapter import SLACK_LIKE, MemoryAdapter


def caps(**changes: object) -> Capabilities:
    return dataclasses.replace(SLACK_LIKE, **changes)  # type: ignore[arg-type]


def make(
    clock: FakeClock, capabilities: Capabilities = SLACK_LIKE, **kwargs: object
) -> tuple[MemoryAdapter, Delivery]:
    adapter = MemoryAdapter(capabilities, clock=clock, **kwargs)  # type: ignore[arg-type]
    return adapter, Delivery(adapter, clock=clock)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def adapter(clock: FakeClock) -> MemoryAdapter:
    return MemoryAdapter(SLACK_LIKE, clock=clock)


@pytest.fixture
def delivery(adapter: MemoryAdapter, clock: FakeClock) -> Delivery:
    return Delivery(adapter, clock=clock)


async def stream(reply: StreamingReply, clock: FakeClock, chunks: list[str], every_s: float) -> str:
    """Play an LLM: one chunk every `every_s` virtual seconds; returns the whole text."""
    text = ""
    for chunk in chunks:
        await clock.sleep(every_s)
        text += chunk
        reply.set_text(text)
    return text
