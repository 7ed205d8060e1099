"""/metrics after a Slack conversation through the fakes: the series an operator watches move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.llm_fixtures import Text
from tests.slack.test_e2e import CHANNEL, Bot, start_bot, stop_bot


@pytest.fixture
async def slack_bot(tmp_path, fake_slack, fake_openai) -> AsyncIterator[Bot]:
    running = await start_bot(tmp_path, fake_slack, fake_openai)
    yield running
    await stop_bot(running)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
"""Scraped metric values by (name, sorted labels)."""


async def scrape(bot: Bot) -> Samples:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{bot.app.http_port}/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_after_a_slack_conversation(slack_bot: Bot) -> None:
    bot = slack_bot
    before = await scrape(bot)
    bot.fake.fail_next("chat.postMessage", "ratelimited", status=429)
    bot.llm.script(Text("Refunds take five days.", chunks=3, delay_s=0.1))
    question = await bot.mention("how long do refunds take?")
    await bot.idle()
    assert bot.answers(CHANNEL, question.ts)[0].text == "Refunds take five days."
    after = await scrape(bot)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("parley_events_total", platform="slack", kind="IncomingMessage") == 1
    assert grew("parley_turns_total", platform="slack", outcome="answered") == 1
    assert grew("parley_llm_requests_total", provider="openai", outcome="ok") == 1
    assert grew("parley_llm_first_token_seconds_count", provider="openai") == 1
    assert grew("parley_llm_seconds_count", provider="openai") == 1
    assert grew("parley_llm_tokens_total", provider="openai", direction="output") > 0
    assert grew("parley_llm_tokens_total", provider="openai", direction="input") > 0
    ok = dict(platform="slack", method="chat.postMessage")
    assert grew("parley_platform_calls_total", result="rate_limited", **ok) == 1
    assert grew("parley_platform_errors_total", code="ratelimited", **ok) == 1
    assert grew("parley_platform_calls_total", result="ok", **ok) >= 1
    # The 429 held the first post back until the whole answer was there: one post, no edit.
    assert grew("parley_first_text_seconds_count", platform="slack") == 1
    assert grew("parley_reply_operations_sum", platform="slack", operation="post") == 1


async def test_queue_depth_counts_waiting_and_running_jobs(slack_bot: Bot) -> None:
    gate = asyncio.Event()

    async def job() -> None:
        await gate.wait()

    slack_bot.app.queues.submit("conversation", job)
    slack_bot.app.queues.submit("conversation", job)
    assert value(await scrape(slack_bot), "parley_queued_jobs") == 2
    gate.set()
    await slack_bot.app.settled()
    assert value(await scrape(slack_bot), "parley_queued_jobs") == 0
