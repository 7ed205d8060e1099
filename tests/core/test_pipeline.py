"""The inbound pipeline's order, as a sender notices it: bots are dropped first, and a platform's
retries of one event are dropped as duplicates before the rate limit can count them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.pipeline import TOO_FAST
from bot.events import IncomingMessage, Origin, OriginKind
from bot.refs import Author
from tests.core.conftest import ADA, Harness, channel, start_harness

PER_MINUTE = 3


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path, user_messages_per_minute=PER_MINUTE)
    yield h
    await h.app.stop()


def message(event_id: str, text: str, author: Author = ADA) -> IncomingMessage:
    return IncomingMessage(
        event_id=event_id,
        ref=channel(),
        author=author,
        text=text,
        origin=Origin(kind=OriginKind.MESSAGE, message_id=f"u-{event_id}"),
        mentions_bot=True,
    )


async def test_retries_of_one_event_never_spend_the_senders_allowance(limited: Harness) -> None:
    """Ada has room for three messages a minute. She sends two; the platform delivers the
    second three more times (Slack retries when an ack is late); her third message is still
    answered, and she is never told she is too fast."""
    h = limited
    pipeline = h.app.pipeline
    assert pipeline is not None
    await pipeline(message("Ev1", "first question"))
    second = message("Ev2", "second question")
    for _ in range(4):  # the delivery and three retries
        await pipeline(second)
    await pipeline(message("Ev3", "third question"))
    await h.app.settled()

    asked = [r.messages[-1].content for r in h.model.requests]
    questions = ["first question", "second question", "third question"]
    assert len(asked) == 3 and all(map(str.endswith, asked, questions))
    assert TOO_FAST not in h.adapter.private_texts()
    assert h.last_text() == "You said: Ada: third question"


async def test_the_rate_limit_still_holds_past_the_edge(limited: Harness) -> None:
    """The other side of the edge: a fourth new message within the minute is refused, privately."""
    h = limited
    assert h.app.pipeline is not None
    for n in range(PER_MINUTE + 1):
        await h.app.pipeline(message(f"Ev{n}", f"question {n}"))
    await h.app.settled()
    assert len(h.model.requests) == PER_MINUTE
    assert h.adapter.private_texts() == [TOO_FAST]


async def test_a_bots_message_is_dropped_before_anything_else(harness: Harness) -> None:
    """An adapter marks another bot's message `Author.is_bot`; the pipeline's first step drops
    it, even when it mentions Parley: no answer, no model call, and its event id is not spent."""
    assert harness.app.pipeline is not None
    bot = Author(id="B1", display_name="deploybot", is_bot=True)
    await harness.app.pipeline(message("Ev-bot", "@parley what's up?", author=bot))
    await harness.app.settled()
    assert harness.adapter.calls == [] and harness.model.requests == []
    assert await harness.app.store.claim_event("Ev-bot")  # never claimed by dedupe
