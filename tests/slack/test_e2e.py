"""End to end through the composition root: signed HTTP requests to `/slack/events` on the server
`Parley` starts, the real Slack adapter and slack_sdk against the fake Web API, the real core,
and the fake OpenAI API through the official SDK.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.adapter import SlackAdapter, slack_capabilities
from bot.app import Parley
from bot.capabilities import Capabilities, Op
from bot.settings import Settings
from tests.fakes.llm_fixtures import Text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import (
    FakeMessage,
    FakeSlackApi,
    SlackEventSender,
    event_envelope,
    message_event,
    slash_command_form,
)

SECRET = "e2e-signing-secret"
CHANNEL = "C0GENERAL"


@dataclass
class Bot:
    app: Parley
    adapter: SlackAdapter
    fake: FakeSlackApi
    llm: FakeOpenAI
    sender: SlackEventSender

    async def idle(self, within: float = 30.0) -> None:
        """Until every handed-off event has been handled and every conversation is quiet."""
        async with asyncio.timeout(within):
            while True:
                while self.adapter._tasks:
                    await asyncio.wait(set(self.adapter._tasks))
                await self.app.settled()
                if not self.adapter._tasks:
                    return

    async def mention(self, text: str, *, channel: str = CHANNEL, **kw: Any) -> FakeMessage:
        message = self.fake.user_message(channel, f"<@{self.fake.bot_user_id}> {text}", **kw)
        envelope = event_envelope(message_event(message, kind="app_mention"))
        assert (await self.sender.event(envelope))[0] == 200
        return message

    async def dm(self, text: str, *, channel: str = "D0DIRECT") -> FakeMessage:
        message = self.fake.user_message(channel, text)
        envelope = event_envelope(message_event(message, channel_type="im"))
        assert (await self.sender.event(envelope))[0] == 200
        return message

    def answers(self, channel: str, thread_ts: str | None) -> list[FakeMessage]:
        return [m for m in self.fake.bot_messages(channel) if m.thread_ts == thread_ts]


def make_settings(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        slack_bot_token=fake.token,
        slack_signing_secret=SECRET,
        slack_api_url=fake.api_url,
        **llm.settings_overrides(),
    )


async def start_bot(
    tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI, adapter: SlackAdapter | None = None
) -> Bot:
    app = Parley(
        make_settings(tmp_path, fake, llm),
        adapters=[adapter] if adapter else (),
        load_platforms=adapter is None,
        knowledge=False,
    )
    await app.start()
    slack = app.adapters["slack"]
    assert isinstance(slack, SlackAdapter)
    sender = SlackEventSender(f"http://127.0.0.1:{app.http_port}/slack/events", SECRET)
    await sender.__aenter__()
    return Bot(app=app, adapter=slack, fake=fake, llm=llm, sender=sender)


async def stop_bot(bot: Bot) -> None:
    await bot.sender.__aexit__()
    await bot.app.stop()


@pytest.fixture
async def bot(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    """The adapter loaded by name through the composition root, as `parley run` does."""
    b = await start_bot(tmp_path, fake_slack, fake_openai)
    yield b
    await stop_bot(b)


def fast_adapter(
    fake: FakeSlackApi, *, window_s: float = 1.0, per_window: int = 20
) -> SlackAdapter:
    """Slack's shape at a faster clock (posts 3 per 0.3 s per channel, `per_window` updates per
    `window_s` per workspace): the fake enforces the same budgets."""
    caps = with_update_budget(slack_capabilities(time_scale=0.1), per_window, window_s)
    fake.configure(
        update_limit=per_window, update_window_s=window_s, post_interval_s=0.1, post_burst=3
    )
    return SlackAdapter(
        bot_token=fake.token, signing_secret=SECRET, api_url=fake.api_url, capabilities=caps
    )


def with_update_budget(caps: Capabilities, calls: int, window_s: float) -> Capabilities:
    """`caps` with its chat.update budget replaced."""
    limits = tuple(
        dataclasses.replace(limit, calls=calls, window_s=window_s)
        if limit.ops == {Op.EDIT}
        else limit
        for limit in caps.rate_limits
    )
    return dataclasses.replace(caps, rate_limits=limits)


def user_texts(llm: FakeOpenAI) -> list[str]:
    """The user turns of the last request the model received."""
    return [str(m.get("content")) for m in llm.last_body["messages"] if m["role"] == "user"]


# --- where it answers -----------------------------------------------------------------------


async def test_mention_placeholder_in_thread_then_edits_then_final(bot: Bot) -> None:
    bot.llm.script(
        Text("Refunds take **five** days, counted from the request.", chunks=10, delay_s=0.3)
    )
    question = await bot.mention("how long do refunds take?")
    await bot.idle()
    [answer] = bot.answers(CHANNEL, question.ts)
    assert answer.edits[0] == "…"  # alone, the answer is acknowledged at once in the thread
    assert len(answer.edits) >= 3  # then grown by edits
    assert answer.text == "Refunds take *five* days, counted from the request."  # as mrkdwn
    assert user_texts(bot.llm)[-1].endswith("how long do refunds take?")
    assert not bot.fake.rate_limited


async def test_dm_is_answered_in_the_dm(bot: Bot) -> None:
    await bot.dm("hello there")
    await bot.idle()
    [answer] = bot.answers("D0DIRECT", None)
    assert answer.text == "You said: hello there"


async def test_thread_followup_without_mention(bot: Bot) -> None:
    question = await bot.mention("my name is Ada")
    await bot.idle()
    reply = bot.fake.user_message(CHANNEL, "what is my name?", thread_ts=question.ts)
    await bot.sender.event(event_envelope(message_event(reply)))
    await bot.idle()
    answers = bot.answers(CHANNEL, question.ts)
    assert [a.text for a in answers] == ["You said: my name is Ada", "You said: what is my name?"]
    assert any("my name is Ada" in t for t in user_texts(bot.llm))  # memory of the thread


async def test_chatter_in_other_threads_is_not_answered(bot: Bot) -> None:
    parent = bot.fake.user_message(CHANNEL, "lunch?")
    reply = bot.fake.user_message(CHANNEL, "pizza", thread_ts=parent.ts)
    await bot.sender.event(event_envelope(message_event(reply)))
    await bot.sender.event(event_envelope(message_event(parent)))
    await bot.idle()
    assert bot.fake.bot_messages() == [] and bot.llm.requests == []


async def test_same_event_four_times_is_answered_once(bot: Bot) -> None:
    message = bot.fake.user_message(CHANNEL, f"<@{bot.fake.bot_user_id}> once please")
    envelope = event_envelope(message_event(message, kind="app_mention"))
    for retry in (None, 1, 2, 3):
        assert (await bot.sender.event(envelope, retry_num=retry))[0] == 200
    await bot.idle()
    assert len(bot.answers(CHANNEL, message.ts)) == 1
    assert len(bot.llm.requests) == 1


@pytest.mark.parametrize("tamper", ["bad_signature", "stale"])
async def test_bad_or_stale_signature_gets_401_and_no_answer(bot: Bot, tamper: str) -> None:
    message = bot.fake.user_message(CHANNEL, f"<@{bot.fake.bot_user_id}> hi")
    envelope = event_envelope(message_event(message, kind="app_mention"))
    if tamper == "stale":
        status, _ = await bot.sender.event(envelope, timestamp=int(time.time()) - 301)
    else:
        status, _ = await bot.sender.event(envelope, secret="forged")
    assert status == 401
    await bot.idle()
    assert bot.fake.bot_messages() == [] and bot.llm.requests == []


# --- slash command --------------------------------------------------------------------------


async def test_slash_ask_is_acked_within_3s_and_answered(bot: Bot) -> None:
    bot.llm.script(Text("Parley is a bot.", chunks=3, delay_s=1.5))  # slower than the deadline
    form = slash_command_form("ask what is parley?", response_url=bot.fake.new_response_url())
    started = time.monotonic()
    status, body = await bot.sender.command(form)
    assert status == 200 and time.monotonic() - started < 3.0
    assert json.loads(body)["response_type"] == "in_channel"
    await bot.idle()
    [answer] = bot.answers(CHANNEL, None)
    assert answer.text == "Parley is a bot."


async def test_slash_reset_clears_memory(bot: Bot) -> None:
    await bot.dm("My name is Ada.")
    await bot.idle()
    url = bot.fake.new_response_url()
    form = slash_command_form("reset", response_url=url, channel_id="D0DIRECT")
    assert (await bot.sender.command(form))[0] == 200
    await bot.idle()
    assert bot.fake.responses[-1]["response_type"] == "ephemeral"
    assert "forgotten" in bot.fake.responses[-1]["text"]
    await bot.dm("What is my name?")
    await bot.idle()
    assert not any("Ada" in t for t in user_texts(bot.llm))


# --- long and many --------------------------------------------------------------------------


def long_answer() -> str:
    parts = []
    for section in range(5):
        parts.append(f"## Part {section}\n\n" + " ".join(f"w{section}x{i:03d}" for i in range(170)))
        parts.append(
            "```python\n" + "\n".join(f"line_{section}_{i:03d} = {i}" for i in range(40)) + "\n```"
        )
    text = "\n\n".join(parts)
    assert 9000 < len(text) < 10_000
    return text


async def test_nine_thousand_chars_roll_over_into_several_messages(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(tmp_path, fake_slack, fake_openai, fast_adapter(fake_slack))
    try:
        answer = long_answer()
        bot.llm.script(Text(answer, chunks=30, delay_s=0.02))
        question = await bot.mention("write a long answer")
        await bot.idle()
        messages = bot.answers(CHANNEL, question.ts)
        assert len(messages) >= 3
        assert all(len(m.text) <= 4000 for m in messages)
        assert all(len(e) <= 4000 for m in messages for e in m.edits)
        assert all(m.text.count("```") % 2 == 0 for m in messages)  # fences closed and reopened
        shown = "\n".join(m.text for m in messages)
        tokens = [t for t in answer.replace("\n", " ").split(" ") if t.startswith(("w", "line_"))]
        positions = [shown.find(t) for t in tokens]
        assert -1 not in positions, "nothing lost"
        assert positions == sorted(positions), "in order"
        assert not bot.fake.calls_to("chat.update", ok=False)
    finally:
        await stop_bot(bot)


async def test_twenty_concurrent_mentions_within_the_workspace_budget(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(
        tmp_path, fake_slack, fake_openai, fast_adapter(fake_slack, window_s=1.0, per_window=20)
    )
    try:
        for i in range(20):
            bot.llm.script(Text(f"Answer number {i} " + "word " * 60, chunks=8, delay_s=0.1))
        channels = [f"C0CHAN{i % 4}" for i in range(20)]
        questions = await asyncio.gather(
            *(bot.mention(f"question {i}", channel=c) for i, c in enumerate(channels))
        )
        await bot.idle(within=60)
        finals = []
        for question, channel in zip(questions, channels, strict=True):
            [answer] = bot.answers(channel, question.ts)
            finals.append(answer.text)
        assert all(t.startswith("Answer number") and t.rstrip().endswith("word") for t in finals)
        assert sorted(int(t.split()[2]) for t in finals) == list(range(20))
        assert not any("⚠" in t or "rate" in t.lower() for t in finals)  # no 429 reached a user
        updates = [c.at for c in bot.fake.calls_to("chat.update", ok=True)]
        worst = max(sum(1 for u in updates if start <= u < start + 1.0) for start in updates)
        assert worst <= 20  # the workspace budget held
    finally:
        await stop_bot(bot)


# --- native streaming -----------------------------------------------------------------------


async def native_bot(tmp_path: Path, fake: FakeSlackApi, llm: FakeOpenAI) -> Bot:
    caps = slack_capabilities(native_stream=True, time_scale=0.1)
    fake.configure(update_window_s=6.0, post_interval_s=0.1, post_burst=3)
    adapter = SlackAdapter(
        bot_token=fake.token,
        signing_secret=SECRET,
        api_url=fake.api_url,
        native_streaming=True,
        capabilities=caps,
    )
    return await start_bot(tmp_path, fake, llm, adapter)


async def test_native_stream_answers_in_the_thread(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await native_bot(tmp_path, fake_slack, fake_openai)
    try:
        fake_openai.script(Text("Streamed **natively**, token by token.", chunks=5, delay_s=0.15))
        question = await bot.mention("stream please")
        await bot.idle()
        [answer] = bot.answers(CHANNEL, question.ts)
        assert answer.text == "Streamed **natively**, token by token."
        assert not answer.streaming and len(answer.edits) >= 3
        start = fake_slack.calls_to("chat.startStream")[0].args
        assert (start["recipient_user_id"], start["thread_ts"]) == ("U0USER1", question.ts)
        assert fake_slack.calls_to("chat.update") == []
    finally:
        await stop_bot(bot)


async def test_native_stream_error_falls_back_to_edits(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    bot = await native_bot(tmp_path, fake_slack, fake_openai)
    try:
        fake_slack.fail_next("chat.startStream", "feature_not_enabled")
        question = await bot.mention("stream please")
        await bot.idle()
        [answer] = bot.answers(CHANNEL, question.ts)
        assert answer.text == "You said: stream please"
        assert fake_slack.calls_to("chat.postMessage", ok=True)  # posted by the edit path
    finally:
        await stop_bot(bot)


async def test_first_summoned_into_a_thread_reads_it_once(bot: Bot) -> None:
    parent = bot.fake.user_message(CHANNEL, "Our refund window is 14 days.")
    bot.fake.user_message(CHANNEL, "Annual plans get 30.", user="U0USER2", thread_ts=parent.ts)
    await bot.mention("summarise this thread", thread_ts=parent.ts)
    await bot.idle()
    assert len(bot.fake.calls_to("conversations.replies")) == 1
    seen = " ".join(user_texts(bot.llm))
    assert "14 days" in seen and "Annual plans get 30." in seen
    await bot.mention("and monthly?", thread_ts=parent.ts)
    await bot.idle()
    assert len(bot.fake.calls_to("conversations.replies")) == 1  # memory is ours from now on
