"""End to end through the composition root: the real Discord adapter (discord.py's client on the
gateway and REST fake), the real core and delivery engine on SQLite, and the fake OpenAI API
through the official SDK."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from adapters.discord.adapter import DiscordAdapter, discord_capabilities
from bot.app import Parley
from bot.capabilities import Op, RateLimit, RateScope
from bot.settings import Settings
from bot.tools.build import build_tool_host
from bot.tools.host import ApprovingToolHost
from bot.tools.registry import Risk, Tool, ToolContext
from storage.approvals import SqlApprovalStore
from tests.fakes.discord_api import (
    BOT_USER_ID,
    CHANNEL_ID,
    OTHER_BOT_ID,
    OTHER_USER_ID,
    FakeDiscord,
    FakeMessage,
)
from tests.fakes.llm_fixtures import Call, Text, ToolCalls
from tests.fakes.openai_api import FakeOpenAI

DEPLOYS: list[str] = []


class DeployParley(Parley):
    """The app with one tool that changes something (so it needs an approval)."""

    def _build_tool_host(self) -> ApprovingToolHost:
        async def deploy(args: Mapping[str, Any], ctx: ToolContext) -> str:
            DEPLOYS.append(str(args["service"]))
            return f"deployed {args['service']}"

        tool = Tool(
            name="deploy",
            description="Deploy a service",
            parameters={
                "type": "object",
                "properties": {"service": {"type": "string"}},
                "required": ["service"],
            },
            run=deploy,
            risk=Risk.WRITE,
        )
        return build_tool_host(
            self.settings,
            store=SqlApprovalStore(self.store.db),
            retriever=None,
            resumer=self,
            clock=self.clock,
            extra_tools=[tool],
            plugins=False,
        )


@dataclass
class Bot:
    app: Parley
    adapter: DiscordAdapter
    fake: FakeDiscord
    llm: FakeOpenAI

    async def idle(self, within: float = 30.0) -> None:
        """Until the gateway has delivered what the fake sent, every handed-off event has been
        handled and every conversation is quiet (three quiet checks in a row)."""
        async with asyncio.timeout(within):
            quiet = 0
            while quiet < 3:
                await asyncio.sleep(0.05)
                busy = bool(self.adapter._tasks) or self.app.queues.active > 0
                if self.adapter._tasks:
                    await asyncio.wait(set(self.adapter._tasks))
                await self.app.settled()
                quiet = 0 if busy else quiet + 1

    def answers(self, channel_id: str = CHANNEL_ID) -> list[FakeMessage]:
        return [m for m in self.fake.bot_messages(channel_id) if not m.ephemeral]


def settings_for(tmp_path: Path, fake: FakeDiscord, llm: FakeOpenAI, **extra: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        host="127.0.0.1",
        port=0,
        discord_bot_token=fake.token,
        discord_api_url=fake.api_url,
        first_post_wait_s=0.3,
        **llm.settings_overrides(),
        **extra,
    )


def fast_adapter(fake: FakeDiscord, *, window_s: float = 1.0, **options: Any) -> DiscordAdapter:
    """Discord's shape (5 writes per window per channel) on a faster clock; the fake enforces
    the same bucket."""
    fake.message_window_s = window_s
    base = discord_capabilities(reply_in_thread=bool(options.get("reply_in_thread")))
    caps = dataclasses.replace(
        base,
        min_edit_interval_s=window_s / 5,
        rate_limits=(
            RateLimit(
                ops=frozenset({Op.POST, Op.EDIT}),
                scope=RateScope.THREAD,
                calls=5,
                window_s=window_s,
                name="channel messages",
            ),
            *base.rate_limits[1:],
        ),
    )
    return DiscordAdapter(
        token=fake.token,
        api_url=fake.api_url,
        guild_ready_timeout_s=0.05,
        capabilities=caps,
        **options,
    )


async def start_bot(
    tmp_path: Path,
    fake: FakeDiscord,
    llm: FakeOpenAI,
    adapter: DiscordAdapter | None = None,
    *,
    app_class: type[Parley] = Parley,
    **extra: Any,
) -> Bot:
    app = app_class(
        settings_for(tmp_path, fake, llm, **extra),
        adapters=[adapter] if adapter else (),
        load_platforms=adapter is None,
        knowledge=False,
    )
    await app.start(http=False)
    discord = app.adapters["discord"]
    assert isinstance(discord, DiscordAdapter)
    return Bot(app=app, adapter=discord, fake=fake, llm=llm)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def bot(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> AsyncIterator[Bot]:
    b = await start_bot(tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord))
    yield b
    await b.app.stop()


def user_texts(llm: FakeOpenAI) -> list[str]:
    return [str(m.get("content")) for m in llm.last_body["messages"] if m["role"] == "user"]


# --- where it answers -----------------------------------------------------------------------


async def test_mention_is_answered_as_a_reply_that_grows_by_edits(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(tmp_path, fake_discord, fake_openai)  # loaded by name, as `run` does
    try:
        fake_openai.script(Text("Refunds take **five** days.", chunks=4, delay_s=0.5))
        question = await fake_discord.user_says(
            CHANNEL_ID, "how long do refunds take?", mention_bot=True
        )
        await bot.idle()
        [answer] = bot.answers()
        assert answer.reference == question
        assert len(answer.edits) >= 3 and answer.edits[-1] == "Refunds take **five** days."
        assert answer.edits[0] != answer.edits[-1]  # visible while it was written
        assert user_texts(fake_openai)[-1].endswith("how long do refunds take?")
        assert fake_discord.typing  # typing shown until the first text
        assert fake_discord.rate_limited == 0
    finally:
        await bot.app.stop()


async def test_a_dm_is_answered_in_the_dm(bot: Bot) -> None:
    dm = bot.fake.open_dm_channel()
    await bot.fake.user_says(dm, "hello there")
    await bot.idle()
    [answer] = bot.answers(dm)
    assert answer.content == "You said: Ada: hello there"


async def test_reply_in_thread_opens_a_thread_and_follows_up_without_a_mention(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(
        tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord, reply_in_thread=True)
    )
    try:
        question = await fake_discord.user_says(CHANNEL_ID, "my name is Ada", mention_bot=True)
        await bot.idle()
        assert fake_discord.channels[question]["name"] == "my name is Ada"  # a thread on it
        assert [m.content for m in bot.answers(question)] == ["You said: Ada: my name is Ada"]
        await fake_discord.user_says(question, "what is my name?")  # no mention
        await bot.idle()
        assert [m.content for m in bot.answers(question)] == [
            "You said: Ada: my name is Ada",
            "You said: Ada: what is my name?",
        ]
        assert any("my name is Ada" in t for t in user_texts(fake_openai))  # the thread's memory
        assert bot.answers(CHANNEL_ID) == []
    finally:
        await bot.app.stop()


async def test_a_reply_to_the_bot_continues_the_conversation(bot: Bot) -> None:
    await bot.fake.user_says(CHANNEL_ID, "my name is Ada", mention_bot=True)
    await bot.idle()
    [first] = bot.answers()
    follow_up = await bot.fake.user_says(CHANNEL_ID, "and my name?", reply_to=first.id)
    await bot.idle()
    second = bot.answers()[-1]
    assert second.content == "You said: Ada: and my name?" and second.reference == follow_up
    assert any("my name is Ada" in t for t in user_texts(bot.llm))


async def test_chatter_bots_and_its_own_messages_are_not_answered(bot: Bot) -> None:
    await bot.fake.user_says(CHANNEL_ID, "lunch?", author=OTHER_USER_ID)
    await bot.fake.user_says(CHANNEL_ID, "ping", author=OTHER_BOT_ID, mention_bot=True)
    await bot.idle()
    assert bot.answers() == [] and bot.llm.requests == []
    await bot.fake.user_says(CHANNEL_ID, "hi", mention_bot=True)
    await bot.idle()
    [answer] = bot.answers()
    await bot.fake.resend(answer.id)  # the gateway echoes our own message
    await bot.idle()
    assert len(bot.llm.requests) == 1 and len(bot.answers()) == 1


async def test_the_same_message_twice_is_answered_once_even_after_a_restart(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    bot = await start_bot(tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord))
    question = await fake_discord.user_says(CHANNEL_ID, "once please", mention_bot=True)
    await fake_discord.resend(question)
    await bot.idle()
    await bot.app.stop()
    again = await start_bot(tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord))
    try:
        await fake_discord.resend(question)  # a RESUME replay reaching the new process
        await again.idle()
        assert len(again.answers()) == 1 and len(fake_openai.requests) == 1
    finally:
        await again.app.stop()


async def test_resume_replay_is_answered_once(bot: Bot) -> None:
    bot.fake.gateway.resume_overlap = 1
    await bot.fake.gateway.drop()
    await bot.fake.user_says(CHANNEL_ID, "while you were away", mention_bot=True)
    await bot.idle()
    await bot.fake.gateway.drop()  # replays that message once more
    await bot.fake.user_says(CHANNEL_ID, "and now", mention_bot=True)
    async with asyncio.timeout(10):
        while len(bot.fake.gateway.resumes) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await bot.idle()
    assert sorted(m.content for m in bot.answers()) == [
        "You said: Ada: and now",
        "You said: Ada: while you were away",
    ]


# --- app commands ---------------------------------------------------------------------------


async def test_ask_is_deferred_within_3s_and_answered_through_its_token(bot: Bot) -> None:
    bot.llm.script(Text("Parley is a bot.", chunks=3, delay_s=1.5))  # slower than the deadline
    interaction = await bot.fake.slash(
        "ask", [{"name": "question", "type": 3, "value": "what are you?"}]
    )
    await bot.idle()
    [callback] = bot.fake.calls_to("POST /interactions/{interaction_id}/{token}/callback")
    assert callback.at - interaction.created < 3.0 and callback.body["type"] == 5
    original = bot.fake.messages[interaction.original_id]
    assert original.content == "Parley is a bot." and not original.ephemeral


async def test_reset_is_private_and_forgets(bot: Bot) -> None:
    await bot.fake.user_says(CHANNEL_ID, "My favourite colour is teal.", mention_bot=True)
    await bot.idle()
    interaction = await bot.fake.slash("reset")
    await bot.idle()
    note = bot.fake.messages[interaction.original_id]
    assert note.ephemeral and note.content
    await bot.fake.user_says(CHANNEL_ID, "What is my favourite colour?", mention_bot=True)
    await bot.idle()
    assert not any("teal" in t for t in user_texts(bot.llm))


# --- approvals ------------------------------------------------------------------------------


async def test_an_approval_click_after_a_restart_runs_the_tool_once(
    tmp_path: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    DEPLOYS.clear()
    bot = await start_bot(
        tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord), app_class=DeployParley
    )
    fake_openai.script(ToolCalls([Call("deploy", {"service": "api"})], reason="Deploying."))
    await fake_discord.user_says(CHANNEL_ID, "please deploy api", mention_bot=True)
    await bot.idle()
    [card] = [m for m in bot.answers() if m.components]
    approve = next(
        b["custom_id"] for b in card.components[0]["components"] if ":approve:" in b["custom_id"]
    )
    assert len(approve) <= 100
    await bot.app.stop()
    bot = await start_bot(
        tmp_path, fake_discord, fake_openai, fast_adapter(fake_discord), app_class=DeployParley
    )
    try:
        stranger = await fake_discord.click(card.id, approve, user_id=OTHER_USER_ID)
        await bot.idle()
        assert stranger.callback_type == 4
        assert fake_discord.messages[stranger.original_id].ephemeral and DEPLOYS == []
        click = await fake_discord.click(card.id, approve)
        await bot.idle()
        assert click.callback_type == 7  # the card updated in the interaction's answer
        shown = fake_discord.messages[card.id]
        assert "Approved" in shown.content and "Ada" in shown.content and shown.components == []
        assert DEPLOYS == ["api"]
        assert "deployed api" in bot.answers()[-1].content
        await fake_discord.click(card.id, approve)  # a late second click
        await bot.idle()
        assert DEPLOYS == ["api"]
    finally:
        await bot.app.stop()


# --- long and many --------------------------------------------------------------------------


def long_answer() -> str:
    parts = []
    for section in range(4):
        parts.append(f"## Part {section}\n\n" + " ".join(f"w{section}x{i:03d}" for i in range(130)))
        parts.append(
            "```python\n" + "\n".join(f"line_{section}_{i:03d} = {i}" for i in range(35)) + "\n```"
        )
    text = "\n\n".join(parts)
    assert 5800 < len(text) < 6600
    return text


async def test_six_thousand_chars_roll_over_with_nothing_lost_and_fences_intact(bot: Bot) -> None:
    answer = long_answer()
    bot.llm.script(Text(answer, chunks=30, delay_s=0.02))
    await bot.fake.user_says(CHANNEL_ID, "write a long answer", mention_bot=True)
    await bot.idle()
    messages = bot.answers()
    assert len(messages) >= 4
    assert all(len(e) <= 2000 for m in messages for e in m.edits)
    assert all(m.content.count("```") % 2 == 0 for m in messages)
    shown = "\n".join(m.content for m in messages)
    tokens = [t for t in answer.replace("\n", " ").split(" ") if t.startswith(("w", "line_"))]
    positions = [shown.find(t) for t in tokens]
    assert -1 not in positions, "nothing lost"
    assert positions == sorted(positions), "in order"
    assert not [c for c in bot.fake.calls if c.code == 50035]


async def test_ten_concurrent_answers_in_one_channel_get_no_429(bot: Bot) -> None:
    for i in range(10):
        bot.llm.script(Text(f"Answer number {i} " + "word " * 40, chunks=6, delay_s=0.1))
    users = [f"q{i}" for i in range(10)]
    await asyncio.gather(
        *(bot.fake.user_says(CHANNEL_ID, f"question {u}", mention_bot=True) for u in users)
    )
    started = time.monotonic()
    await bot.idle(within=60)
    finals = [m.content for m in bot.answers()]
    assert sorted(int(t.split()[2]) for t in finals) == list(range(10))
    assert all(t.rstrip().endswith("word") for t in finals)
    assert bot.fake.rate_limited == 0
    assert time.monotonic() - started < 30
    assert BOT_USER_ID  # the answers are the bot's (bot_messages filters by its id)


async def test_a_missing_permission_is_logged_once_and_nothing_is_half_posted(bot: Bot) -> None:
    bot.fake.deny(CHANNEL_ID)
    with capture_logs() as logs:
        await bot.fake.user_says(CHANNEL_ID, "anyone there?", mention_bot=True)
        await bot.idle(within=60)
    lines = [e for e in logs if e["event"] == "discord.missing_permission"]
    assert [(e["permission"], e["channel"]) for e in lines] == [("Send Messages", CHANNEL_ID)]
    assert bot.answers() == []
