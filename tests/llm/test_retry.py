"""Our retry policy through the router, the real SDKs and the fakes (sleeps are virtual)."""

from __future__ import annotations

import random

import pytest

from bot.llm.errors import AllProvidersFailed, StreamInterrupted, parse_retry_after
from bot.llm.retry import RetryPolicy
from bot.llm.types import Answering, Finish, TextDelta
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.llm_fixtures import Disconnect, Hang, HttpError, Text
from tests.fakes.openai_api import FakeOpenAI
from tests.llm.helpers import RecordingClock, anthropic, ask, collect, openai, router, text_of


async def test_429_waits_the_retry_after(fake_openai: FakeOpenAI) -> None:
    clock = RecordingClock()
    fake_openai.script(HttpError(429, retry_after=7), Text("finally"))
    events = await collect(router(openai(fake_openai), clock=clock).stream(ask()))

    assert clock.sleeps == [7.0]
    assert text_of(events) == "finally"
    assert len(fake_openai.requests) == 2


async def test_retry_after_is_capped(fake_anthropic: FakeAnthropic) -> None:
    clock = RecordingClock()
    fake_anthropic.script(HttpError(429, retry_after=600))
    await collect(router(anthropic(fake_anthropic), clock=clock).stream(ask()))
    assert clock.sleeps == [RetryPolicy().retry_after_cap_s]


async def test_500_is_retried_with_jittered_backoff(fake_openai: FakeOpenAI) -> None:
    clock = RecordingClock()
    fake_openai.script(HttpError(500), HttpError(503), Text("ok"))
    events = await collect(router(openai(fake_openai), clock=clock).stream(ask()))

    assert text_of(events) == "ok"
    assert len(fake_openai.requests) == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0


async def test_529_overloaded_is_retried(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(HttpError(529), Text("back"))
    events = await collect(router(anthropic(fake_anthropic)).stream(ask()))
    assert text_of(events) == "back"


async def test_401_is_not_retried(fake_openai: FakeOpenAI) -> None:
    clock = RecordingClock()
    fake_openai.script(HttpError(401))
    with pytest.raises(AllProvidersFailed) as info:
        await collect(router(openai(fake_openai), clock=clock).stream(ask()))

    assert len(fake_openai.requests) == 1
    assert clock.sleeps == []
    assert "401 unauthorized" in str(info.value)


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_validation_errors_are_not_retried(fake_openai: FakeOpenAI, status: int) -> None:
    fake_openai.script(HttpError(status))
    with pytest.raises(AllProvidersFailed):
        await collect(router(openai(fake_openai)).stream(ask()))
    assert len(fake_openai.requests) == 1


async def test_timeout_is_retried_then_reported(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Hang(), Hang())
    with pytest.raises(AllProvidersFailed) as info:
        await collect(router(openai(fake_openai, timeout_s=0.2), max_retries=1).stream(ask()))

    assert len(fake_openai.requests) == 2
    assert "openai: timed out" in str(info.value)


async def test_timeout_then_success(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Hang())
    events = await collect(router(anthropic(fake_anthropic, timeout_s=0.2)).stream(ask("again")))
    assert text_of(events) == "You said: again"


@pytest.mark.parametrize("which", ["openai", "anthropic"])
async def test_mid_stream_disconnect_is_not_retried(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, which: str
) -> None:
    fake = fake_openai if which == "openai" else fake_anthropic
    provider = openai(fake_openai) if which == "openai" else anthropic(fake_anthropic)
    fake.script(Disconnect("Once upon a time", chunks=3))
    events = []
    with pytest.raises(StreamInterrupted) as info:
        async for event in router(provider).stream(ask()):
            events.append(event)

    assert events[0] == Answering(provider=which, model=provider.model)
    assert text_of(events) == "Once upon a time"  # shown once, never repeated
    assert not any(isinstance(e, Finish) for e in events)
    assert len(fake.requests) == 1
    assert "interrupted" in str(info.value)


async def test_stalled_stream_times_out_without_duplicating(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Hang(after_text="Slow start"))
    events = []
    with pytest.raises(StreamInterrupted):
        async for event in router(openai(fake_openai, timeout_s=0.2)).stream(ask()):
            events.append(event)
    assert text_of(events) == "Slow start"
    assert len(fake_openai.requests) == 1


async def test_slow_stream_is_fine(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Text("one two three", chunks=3, delay_s=0.05))
    events = await collect(router(openai(fake_openai, timeout_s=1)).stream(ask()))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one ", "two ", "three"]


def test_full_jitter_bounds() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread over the whole range


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"retry-after": "12"}) == 12.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert (
        parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
        == 10.0
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


async def test_no_new_attempt_after_max_elapsed(fake_openai: FakeOpenAI) -> None:
    from bot.llm.router import LLMRouter

    clock = RecordingClock()
    fake_openai.script(*[HttpError(429, retry_after=10) for _ in range(5)])
    model = LLMRouter(
        [openai(fake_openai)], clock=clock, policy=RetryPolicy(max_retries=5, max_elapsed_s=15)
    )
    with pytest.raises(AllProvidersFailed):
        await collect(model.stream(ask()))
    assert len(fake_openai.requests) == 2  # t=0 and t=10; at t=20 the budget is spent
