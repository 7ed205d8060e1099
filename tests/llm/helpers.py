"""Shared helpers for the LLM tests: a clock that records sleeps, and stream collection."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence

from bot.clock import FakeClock
from bot.llm.anthropic_provider import AnthropicProvider
from bot.llm.openai_provider import OpenAIProvider
from bot.llm.retry import RetryPolicy
from bot.llm.router import LLMRouter
from bot.llm.types import (
    ChatMessage,
    LLMProvider,
    LLMRequest,
    StreamEvent,
    TextDelta,
)
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI

KEY = "sk-test-SECRETKEY123456"
OPENED: list[OpenAIProvider | AnthropicProvider | LLMRouter] = []
"""Everything with an SDK client made by these helpers; tests/llm/conftest.py closes them."""


class RecordingClock(FakeClock):
    """Virtual time that also remembers every sleep it was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await super().sleep(seconds)


def ask(text: str = "Hello", *, system: str = "You are terse.") -> LLMRequest:
    return LLMRequest(
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=text),
        ]
    )


async def collect(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def text_of(events: Sequence[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def openai(fake: FakeOpenAI, *, timeout_s: float = 5.0, key: str = KEY) -> OpenAIProvider:
    provider = OpenAIProvider.create(
        api_key=key, base_url=fake.base_url, model="gpt-test", timeout_s=timeout_s
    )
    OPENED.append(provider)
    return provider


def anthropic(fake: FakeAnthropic, *, timeout_s: float = 5.0, key: str = KEY) -> AnthropicProvider:
    provider = AnthropicProvider.create(
        api_key=key, base_url=fake.base_url, model="claude-test", timeout_s=timeout_s
    )
    OPENED.append(provider)
    return provider


def track(model: LLMRouter) -> LLMRouter:
    OPENED.append(model)
    return model


def router(
    *providers: LLMProvider, clock: FakeClock | None = None, max_retries: int = 2
) -> LLMRouter:
    return LLMRouter(
        providers,
        policy=RetryPolicy(max_retries=max_retries),
        clock=clock or RecordingClock(),
        rng=random.Random(7),
    )
