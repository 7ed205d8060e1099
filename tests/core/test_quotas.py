"""Quotas through the real core (pipeline, turn runner, storage) with the fake clock: request
rates and daily token budgets are hit and reset, a workspace override applies, concurrent
answers are capped per person, admins are exempt unless told otherwise. Each refusal is a
private message saying when to try again, and no model call is made for it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from bot.app import Parley
from bot.clock import FakeClock
from bot.llm.types import LLMRequest, StreamEvent
from bot.refs import Author, ConversationKind, ConversationRef
from bot.tools.wallclock import WallClock
from tests.core.conftest import FAST, Harness, make_settings
from tests.fakes.memory_adapter import MemoryAdapter
from tests.fakes.scripted_model import ScriptedModel

ADA = Author(id="U1", display_name="Ada")
BOB = Author(id="U2", display_name="Bob")
START = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
"""Wall time when the test starts: 90 minutes before a new UTC day."""


async def start(tmp_path, model: ScriptedModel | None = None, **settings) -> Harness:
    clock = FakeClock()
    wall = WallClock(clock, origin=START)
    adapter = MemoryAdapter(FAST, clock=clock)
    model = model or ScriptedModel()
    app = Parley(
        make_settings(tmp_path, **settings),
        clock=clock,
        wall=lambda: wall.now(),
        chat_model=model,
        adapters=[adapter],
        load_platforms=False,
        knowledge=False,
    )
    await app.start(http=False)
    # The hourly housekeeping lets the fake clock jump an hour whenever every task waits (on
    # the database too, during start-up): without it, and with the wall clock set at START
    # from here, time moves by the seconds answers take and by what a test advances.
    for task in app._background:
        task.cancel()
    wall = WallClock(clock, origin=START)
    return Harness(app=app, adapter=adapter, model=model)


def seen(h: Harness, text: str) -> bool:
    """Whether the model was asked about `text` (answers and query rewrites alike)."""
    return any(text in m.content for r in h.model.requests for m in r.messages)


def elsewhere(channel_id: str) -> ConversationRef:
    return ConversationRef(
        platform="memory", workspace_id="T1", channel_id=channel_id, kind=ConversationKind.CHANNEL
    )


async def test_a_request_rate_is_hit_then_resets(tmp_path) -> None:
    h = await start(tmp_path, quota_user_requests="2/hour")
    try:
        await h.say("one?")
        await h.say("two?")
        await h.say("three?")
        assert seen(h, "two?") and not seen(h, "three?")
        [refusal] = h.adapter.private_texts()
        assert refusal.startswith("Sorry, you've reached your limit of 2 questions per hour.")
        # An hour after the first question (the fake clock also moves while answers are written).
        assert re.search(r"Please try again in (\d+ min|1 h) \(at 23:3\d UTC\)\.$", refusal)
        await h.say("from Bob?", author=BOB)  # a limit per person
        assert seen(h, "from Bob?")
        assert isinstance(h.app.clock, FakeClock)
        h.app.clock.advance(3600)
        await h.say("four?")
        assert seen(h, "four?") and len(h.adapter.private_texts()) == 1
    finally:
        await h.app.stop()


async def test_a_channel_rate_counts_everyone_in_the_channel(tmp_path) -> None:
    h = await start(tmp_path, quota_channel_requests="1/minute")
    try:
        await h.say("one?")
        await h.say("two?", author=BOB)
        await h.say("in another channel?", author=BOB, ref=elsewhere("C2"))
        assert seen(h, "one?") and not seen(h, "two?") and seen(h, "in another channel?")
        [refusal] = h.adapter.private_texts()
        assert refusal.startswith(
            "Sorry, this channel has reached its limit of 1 questions per minute."
        )
    finally:
        await h.app.stop()


async def test_a_daily_token_budget_is_spent_then_renews_at_midnight_utc(tmp_path) -> None:
    h = await start(tmp_path, quota_user_tokens_per_day=10)
    try:
        await h.say("a question long enough to use more than ten tokens of the budget?")
        await h.say("and another?")
        assert not seen(h, "and another?")
        [refusal] = h.adapter.private_texts()
        assert "you've used today's allowance of 10 tokens" in refusal
        assert re.search(
            r"renews at 00:00 UTC; please try again in 1 h( \d+ min)? \(at 00:00 UTC\)\.$", refusal
        )
        assert isinstance(h.app.clock, FakeClock)
        h.app.clock.advance(90 * 60)  # past midnight UTC
        await h.say("and another?")
        assert seen(h, "and another?")
    finally:
        await h.app.stop()


async def test_a_workspace_override_replaces_the_default(tmp_path) -> None:
    overrides = {
        "memory:T1": {"channel_tokens_per_day": 5},
        "memory:T9": {"user_requests": "9/day"},
    }
    h = await start(tmp_path, quota_user_requests="100/hour", quota_overrides=overrides)
    try:
        await h.say("Ada spends this channel's budget for the day, which is small?")
        await h.say("and Bob is then refused?", author=BOB)
        assert not seen(h, "and Bob is then refused?")
        [refusal] = h.adapter.private_texts()
        assert "this channel has used today's allowance of 5 tokens" in refusal
    finally:
        await h.app.stop()


class GatedModel(ScriptedModel):
    """Holds each answer until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        self.waiting.set()
        await self.release.wait()
        async for event in super().stream(request):
            yield event


async def test_concurrent_answers_per_person_are_capped(tmp_path) -> None:
    model = GatedModel()
    h = await start(tmp_path, model, quota_concurrent_per_user=1)
    try:
        assert h.app.pipeline is not None
        first = asyncio.ensure_future(h.say("slow one?"))
        await model.waiting.wait()
        second = asyncio.ensure_future(h.say("meanwhile, elsewhere?", ref=elsewhere("C2")))
        async with asyncio.timeout(10):
            while not h.adapter.private_texts():  # noqa: ASYNC110 (the adapter has no event)
                await asyncio.sleep(0)
        [refusal] = h.adapter.private_texts()
        assert refusal.startswith("I'm still writing your other answer")
        model.release.set()
        await asyncio.gather(first, second)
        await h.say("now elsewhere?", ref=elsewhere("C2"))
        assert not seen(h, "meanwhile") and seen(h, "now elsewhere?")
        assert len(h.adapter.private_texts()) == 1
    finally:
        model.release.set()
        await h.app.stop()


async def test_admins_are_exempt_by_default(tmp_path) -> None:
    h = await start(tmp_path, quota_user_requests="1/hour", admin_users="memory:U1")
    try:
        await h.say("one?")
        await h.say("two?")
        assert seen(h, "two?") and h.adapter.private_texts() == []
    finally:
        await h.app.stop()


async def test_admins_can_be_held_to_the_quotas_too(tmp_path) -> None:
    h = await start(
        tmp_path, quota_user_requests="1/hour", admin_users="memory:U1", quota_admins_exempt=False
    )
    try:
        await h.say("one?")
        await h.say("two?")
        assert not seen(h, "two?") and len(h.adapter.private_texts()) == 1
    finally:
        await h.app.stop()


def test_quota_and_price_settings_are_checked_at_start_up(monkeypatch, tmp_path) -> None:
    from bot.errors import ConfigError
    from bot.settings import load_settings

    for name, value, needle in (
        ("QUOTA_USER_REQUESTS", "30/hr", "a rate looks like 30/hour"),
        (
            "QUOTA_OVERRIDES",
            '{"slack:T1": {"user_tokens": 5}}',
            "unknown quota field(s) ['user_tokens']",
        ),
        ("QUOTA_OVERRIDES", '{"T1": {"user_requests": "5/day"}}', 'keys look like "slack:T0123"'),
        ("LLM_PRICES", '{"gpt-4o": [-1, 2]}', "LLM_PRICES"),
    ):
        monkeypatch.setenv(name, value)
        try:
            load_settings(_env_file=None, data_dir=tmp_path)
        except ConfigError as exc:
            assert needle in str(exc) and name in str(exc)
        else:
            raise AssertionError(f"{name}={value} was accepted")
        monkeypatch.delenv(name)
    monkeypatch.setenv("QUOTA_OVERRIDES", '{"slack:*": {"user_requests": "10/minute"}}')
    monkeypatch.setenv("LLM_PRICES", '{"llama3": [0, 0]}')
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert settings.quota_overrides == {"slack:*": {"user_requests": "10/minute"}}
    assert settings.llm_prices == {"llama3": (0.0, 0.0)}
