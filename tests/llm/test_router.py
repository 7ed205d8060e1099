"""LLMRouter: fallback order, Answering, breakers, clear errors, no leaked keys; the factory."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from bot.clock import FakeClock
from bot.errors import ProviderError
from bot.llm import build_chat_model
from bot.llm.breaker import CircuitBreaker
from bot.llm.errors import AllProvidersFailed
from bot.llm.router import LLMRouter
from bot.llm.types import Answering, Finish, TextDelta
from bot.settings import load_settings
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.llm_fixtures import Hang, HttpError, Text
from tests.fakes.openai_api import FakeOpenAI
from tests.llm.helpers import (
    KEY,
    OPENED,
    RecordingClock,
    anthropic,
    ask,
    collect,
    openai,
    router,
    text_of,
    track,
)


async def test_answering_comes_first(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Text("hi"))
    events = await collect(router(openai(fake_openai)).stream(ask()))
    assert events[0] == Answering(provider="openai", model="gpt-test")
    assert sum(isinstance(e, Answering) for e in events) == 1
    assert events[-1] == Finish(reason="stop")


async def test_falls_back_to_anthropic_when_openai_returns_500s(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    fake_openai.script_error(500, times=10)
    fake_anthropic.script(Text("Answer from Claude"))
    model = router(openai(fake_openai), anthropic(fake_anthropic), max_retries=2)
    events = await collect(model.stream(ask()))

    assert [e for e in events if isinstance(e, Answering)] == [
        Answering(provider="anthropic", model="claude-test")
    ]
    assert text_of(events) == "Answer from Claude"  # one answer, nothing from the failed one
    assert sum(isinstance(e, Finish) for e in events) == 1
    assert len(fake_openai.requests) == 3  # first try + 2 retries
    assert len(fake_anthropic.requests) == 1


async def test_falls_back_on_auth_error_too(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    fake_openai.script(HttpError(401))
    events = await collect(router(openai(fake_openai), anthropic(fake_anthropic)).stream(ask("x")))
    assert events[0] == Answering(provider="anthropic", model="claude-test")
    assert len(fake_openai.requests) == 1


async def test_all_down_gives_one_clear_message(
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_openai.accepted_keys = frozenset({"another-key"})  # the fake echoes the wrong key back
    fake_anthropic.script_error(529, times=10)
    model = router(openai(fake_openai), anthropic(fake_anthropic), max_retries=1)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as info:
        await collect(model.stream(ask()))

    assert isinstance(info.value, AllProvidersFailed)
    assert str(info.value) == (
        "The language model is unavailable right now (openai: 401 unauthorized (check the API "
        "key); anthropic: 529 overloaded). Please try again in a minute. An admin should check "
        "the provider's API key."
    )
    assert info.value.failures == (
        ("openai", "401 unauthorized (check the API key)"),
        ("anthropic", "529 overloaded"),
    )
    out = capsys.readouterr()
    assert "llm_all_providers_failed" in out.out + caplog.text  # it was logged...
    assert KEY not in out.out + out.err + caplog.text  # ...without the key


async def test_unreachable_provider(fake_openai: FakeOpenAI) -> None:
    port = fake_openai.port
    await fake_openai.stop()  # nothing listens there any more
    from bot.llm.openai_provider import OpenAIProvider

    provider = OpenAIProvider.create(
        api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout_s=1
    )
    OPENED.append(provider)
    with pytest.raises(AllProvidersFailed, match="openai: connection failed"):
        await collect(router(provider, max_retries=1).stream(ask()))


async def test_breaker_opens_after_five_failures_and_half_opens_after_60s(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    clock = FakeClock()
    fake_openai.script_error(500, times=5)
    model = router(openai(fake_openai), anthropic(fake_anthropic), clock=clock, max_retries=0)

    for _ in range(5):
        events = await collect(model.stream(ask()))
        assert events[0] == Answering(provider="anthropic", model="claude-test")
    assert len(fake_openai.requests) == 5
    assert state(model, "openai") == "open"

    # Open: OpenAI is skipped without a request.
    events = await collect(model.stream(ask()))
    assert events[0].provider == "anthropic"  # type: ignore[union-attr]
    assert len(fake_openai.requests) == 5

    clock.advance(59.9)
    await collect(model.stream(ask()))
    assert len(fake_openai.requests) == 5

    clock.advance(0.1)
    assert state(model, "openai") == "half_open"
    events = await collect(model.stream(ask("back?")))  # the trial call succeeds
    assert events[0] == Answering(provider="openai", model="gpt-test")
    assert len(fake_openai.requests) == 6
    assert state(model, "openai") == "closed"


async def test_a_provider_silent_past_its_share_is_paused_then_tried_again(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    """One hang is enough to skip a provider (not five): the next turn does not wait for it again,
    and once the breaker's 60 s are over it gets a trial (failed here, so another 60 s)."""
    clock = FakeClock(autojump=False)
    fake_openai.script(Hang(), HttpError(500))
    model = router(openai(fake_openai), anthropic(fake_anthropic), clock=clock, max_retries=0)
    turn = dataclasses.replace(ask(), deadline_s=20)

    first = asyncio.ensure_future(collect(model.stream(turn)))
    async with asyncio.timeout(10):
        while not fake_openai.requests:  # noqa: ASYNC110 (OpenAI has the request, says nothing)
            await asyncio.sleep(0.01)
    clock.advance(10)  # its half of the turn
    events = await first
    assert events[0] == Answering(provider="anthropic", model="claude-test")
    assert state(model, "openai") == "open"

    events = await collect(model.stream(turn))  # no time passes: no second wait for OpenAI
    assert events[0] == Answering(provider="anthropic", model="claude-test")
    assert len(fake_openai.requests) == 1

    clock.advance(60)
    events = await collect(model.stream(turn))  # the trial: a 500, so Anthropic answers
    assert events[0] == Answering(provider="anthropic", model="claude-test")
    assert (len(fake_openai.requests), state(model, "openai")) == (2, "open")

    clock.advance(60)
    events = await collect(model.stream(turn))
    assert events[0] == Answering(provider="openai", model="gpt-test")
    assert state(model, "openai") == "closed"


async def test_a_success_between_failures_resets_the_count(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    """Failures open the breaker only when consecutive: four, an answer, four more leave OpenAI
    in use, however the eight failures are spread."""
    clock = FakeClock()
    fake_openai.script_error(500, times=4)
    fake_openai.script(Text("OpenAI is back"))
    fake_openai.script_error(500, times=4)
    fake_openai.script(Text("OpenAI still trusted"))
    model = router(openai(fake_openai), anthropic(fake_anthropic), clock=clock, max_retries=0)

    answered_by = []
    for _ in range(10):
        events = await collect(model.stream(ask()))
        answered_by.append(events[0].provider)  # type: ignore[union-attr]
        clock.advance(30)
    assert answered_by == [*["anthropic"] * 4, "openai", *["anthropic"] * 4, "openai"]
    assert len(fake_openai.requests) == 10  # never skipped
    assert state(model, "openai") == "closed"


async def openai_with_open_breaker(fake_openai: FakeOpenAI, clock: FakeClock) -> LLMRouter:
    """An OpenAI-only router whose breaker five 500s in a row have just opened."""
    fake_openai.script_error(500, times=5)
    model = router(openai(fake_openai), clock=clock, max_retries=0)
    for _ in range(5):
        with pytest.raises(AllProvidersFailed):
            await collect(model.stream(ask()))
    return model


async def test_open_breaker_is_named_when_everything_fails(fake_openai: FakeOpenAI) -> None:
    model = await openai_with_open_breaker(fake_openai, FakeClock())
    with pytest.raises(
        AllProvidersFailed, match=r"openai: paused after repeated failures, retry in 60s"
    ):
        await collect(model.stream(ask()))
    assert len(fake_openai.requests) == 5


def test_breaker_half_open_allows_one_trial_and_reopens_on_failure() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, failure_threshold=2, reset_after_s=10)
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(10)
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()
    assert breaker.state == "open" and breaker.retry_in_s == 10
    clock.advance(10)
    assert breaker.allow()
    breaker.release()  # the trial went away without a verdict
    assert breaker.allow()
    breaker.record_success()
    assert str(breaker.state) == "closed"


async def test_request_errors_do_not_open_the_breaker(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_error(400, times=6)
    model = router(openai(fake_openai), max_retries=0)
    for _ in range(6):
        with pytest.raises(AllProvidersFailed):
            await collect(model.stream(ask()))
    assert state(model, "openai") == "closed"


async def test_abandoned_stream_frees_the_half_open_trial(fake_openai: FakeOpenAI) -> None:
    clock = FakeClock()
    model = await openai_with_open_breaker(fake_openai, clock)
    clock.advance(60)
    stream = model.stream(ask())
    first = await anext(stream)
    assert first == Answering(provider="openai", model="gpt-test")
    await stream.aclose()  # type: ignore[attr-defined]
    assert model.breakers["openai"].allow()


def state(model: LLMRouter, provider: str) -> str:
    return model.breakers[provider].state


# --- the factory ---------------------------------------------------------------------------


def test_no_provider_configured_means_not_available() -> None:
    model = track(build_chat_model(load_settings(_env_file=None)))
    assert model.available is False


async def test_nothing_configured_raises_a_clear_error() -> None:
    model = track(build_chat_model(load_settings(_env_file=None)))
    with pytest.raises(ProviderError, match="No language model is configured"):
        await collect(model.stream(ask()))


async def test_factory_follows_llm_providers_order_and_models(
    fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    settings = load_settings(
        _env_file=None,
        llm_providers="anthropic,openai",
        llm_model="claude-custom",
        openai_model="gpt-custom",
        **fake_openai.settings_overrides(),
        **fake_anthropic.settings_overrides(),
    )
    model = track(build_chat_model(settings, clock=RecordingClock()))
    assert model.available
    assert [(p.name, p.model) for p in model.providers] == [
        ("anthropic", "claude-custom"),
        ("openai", "gpt-custom"),
    ]
    events = await collect(model.stream(ask("via settings")))
    assert events[0] == Answering(provider="anthropic", model="claude-custom")
    assert text_of(events) == "You said: via settings"
    assert fake_anthropic.last_body["model"] == "claude-custom"
    assert model.policy.max_retries == settings.llm_max_retries


async def test_openai_compatible_server_without_key(fake_openai: FakeOpenAI) -> None:
    settings = load_settings(_env_file=None, openai_base_url=fake_openai.base_url)
    model = track(build_chat_model(settings))
    events = await collect(model.stream(ask("local")))
    assert text_of(events) == "You said: local"
    assert [e for e in events if isinstance(e, TextDelta)]
