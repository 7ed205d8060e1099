"""The whole core against the strict in-memory platform shaped like Discord and like Teams:
concurrent answers stay inside every declared limit and all end final, long answers roll over
intact, and a click is decided synchronously (its refreshed card in the response) while the
approved tool runs once, queued."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Parley
from bot.capabilities import Capabilities
from bot.clock import Clock, FakeClock, MonotonicClock
from bot.delivery import split_text
from bot.events import ActionClick, Command, IncomingMessage, Origin, OriginKind
from bot.llm.types import (
    Answering,
    Finish,
    LLMRequest,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from bot.refs import Author, ConversationKind, ConversationRef
from tests.core.conftest import make_settings
from tests.fakes.memory_adapter import DISCORD_LIKE, TEAMS_LIKE, MemoryAdapter

ADA = Author(id="U_ADA", display_name="Ada")
BOB = Author(id="U_BOB", display_name="Bob")


@dataclass
class PacedModel:
    """Streams each answer over virtual time (a chunk every 50 ms), like a real model."""

    clock: Clock
    answer: str
    chunk: int = 40
    tool_calls: list[list[ToolCall]] = field(default_factory=list)
    available: bool = True
    requests: list[LLMRequest] = field(default_factory=list)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        yield Answering(provider="paced", model="paced-1")
        if self.tool_calls and request.messages[-1].role == "user":
            for call in self.tool_calls.pop(0):
                yield ToolCallEvent(call=call)
            yield Finish(reason="tool_calls")
            return
        for i in range(0, len(self.answer), self.chunk):
            await self.clock.sleep(0.05)
            yield TextDelta(text=self.answer[i : i + self.chunk])
        yield Usage(input_tokens=10, output_tokens=len(self.answer) // 4)
        yield Finish(reason="stop")


def long_answer(n: int = 6000) -> str:
    lines: list[str] = []
    i = 0
    while sum(len(line) + 1 for line in lines) < n:
        lines.append(f"Step {i}: do the thing number {i} carefully." if i % 7 else "```sh")
        if i % 7 == 3:
            lines.append("```")
        i += 1
    text = "\n".join(lines)
    return text + ("\n```" if text.count("```") % 2 else "")


def where(kind: ConversationKind = ConversationKind.CHANNEL) -> ConversationRef:
    return ConversationRef(platform="memory", workspace_id="G1", channel_id="C1", kind=kind)


def ask(text: str, ref: ConversationRef, author: Author = ADA) -> IncomingMessage:
    return IncomingMessage(
        event_id=uuid.uuid4().hex,
        ref=ref,
        author=author,
        text=text,
        origin=Origin(kind=OriginKind.MESSAGE, message_id=uuid.uuid4().hex[:8]),
        mentions_bot=True,
    )


async def start(tmp_path, caps: Capabilities, model: PacedModel) -> tuple[Parley, MemoryAdapter]:
    adapter = MemoryAdapter(caps, clock=model.clock, native=bool(caps.native_stream))
    app = Parley(
        make_settings(tmp_path, user_messages_per_minute=100),
        clock=model.clock,
        chat_model=model,
        adapters=[adapter],
        load_platforms=False,
        knowledge=False,
    )
    await app.start(http=False)
    return app, adapter


@pytest.mark.parametrize(
    ("caps", "answers"),
    [(DISCORD_LIKE, 10), (TEAMS_LIKE, 20)],
    ids=["discord-like-10", "teams-like-20"],
)
async def test_concurrent_answers_stay_within_every_limit_and_end_final(
    tmp_path, caps: Capabilities, answers: int
) -> None:
    clock = FakeClock()
    text = long_answer(6000 if caps is DISCORD_LIKE else 30_000)
    chunk = 40 if caps is DISCORD_LIKE else 400
    app, adapter = await start(tmp_path, caps, PacedModel(clock=clock, answer=text, chunk=chunk))
    try:
        questions = [ask(f"question {n}", where()) for n in range(answers)]
        assert app.pipeline is not None
        await asyncio.gather(*(app.pipeline(q) for q in questions))
        await app.settled()
        assert adapter.rate_limited == 0  # the platform never had to say 429
        limit = caps.max_chars
        unfinished = [mid for mid, m in adapter.messages.items() if m.text_markdown and not m.final]
        assert unfinished == []  # every reply ended in its final form
        # Each answer rolled over intact: its parts are exactly the split of the full text.
        expected = [p.text for p in split_text(text, limit)]
        by_conversation: dict[str, list[str]] = {}
        for call in adapter.ok_calls("send"):
            key = call.ref.memory_key
            by_conversation.setdefault(key, []).append(
                adapter.messages[call.message_id].text_markdown
            )
        joined = [part for parts in by_conversation.values() for part in parts]
        assert joined.count(expected[0]) == answers and joined.count(expected[-1]) == answers
        assert all(len(part) <= limit for part in joined)
    finally:
        await app.stop()


@pytest.mark.parametrize("caps", [DISCORD_LIKE, TEAMS_LIKE], ids=["discord-like", "teams-like"])
async def test_a_click_is_decided_synchronously_and_the_tool_runs_once(tmp_path, caps) -> None:
    clock = MonotonicClock()  # a virtual clock would jump straight to the approval's expiry
    call = ToolCall(
        id="call_1",
        name="schedule_message",
        arguments={"text": "stand-up", "at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
    )
    model = PacedModel(clock=clock, answer="Scheduled it for you.", tool_calls=[[call]])
    app, adapter = await start(tmp_path, caps, model)
    try:
        assert app.pipeline is not None and app.tools is not None
        ref = where(ConversationKind.DIRECT)
        await app.pipeline(ask("remind the team", ref))
        await app.settled()
        card = next(c for c in adapter.ok_calls("send") if c.message.actions)
        approval = card.message.actions[0].value
        assert app.tools.scheduler is not None and app.tools.scheduler.scheduled() == []

        def click(who: Author, action: str = "approve") -> ActionClick:
            return ActionClick(
                event_id=uuid.uuid4().hex,
                ref=ref,
                author=who,
                action_id=action,
                value=approval,
                origin=Origin(kind=OriginKind.ACTION, message_id=card.message_id),
            )

        refused = await app.pipeline(click(BOB))
        assert refused is not None and refused.update is None
        assert refused.private is not None and "only Ada" in refused.private.text_markdown
        result = await app.pipeline(click(ADA))
        assert result is not None and result.update is not None  # the refreshed card, at once
        assert "Approved by Ada" in result.update.text_markdown and not result.update.actions
        again = await app.pipeline(click(ADA, "deny"))
        assert again is not None and again.private is not None
        assert "already approved" in again.private.text_markdown
        await app.settled()
        assert len(app.tools.scheduler.scheduled()) == 1  # run once
        assert any("Scheduled it for you." in m.text_markdown for m in adapter.messages.values())
        # The adapter showed the result itself: the core did not edit the card a second time.
        assert adapter.history(card.message_id)[-1].message.actions
    finally:
        await app.stop()


async def test_a_deferred_command_is_answered_through_its_origin(tmp_path) -> None:
    clock = MonotonicClock()  # the store works in a thread: virtual time would jump past it
    model = PacedModel(clock=clock, answer="Refunds take five days.")
    app, adapter = await start(tmp_path, DISCORD_LIKE, model)
    try:
        adapter.issued_at["itok"] = clock.now()
        origin = Origin(kind=OriginKind.COMMAND, token="itok", token_ttl_s=900.0, deferred=True)
        assert app.pipeline is not None
        await app.pipeline(
            Command(event_id="i1", ref=where(), author=ADA, text="ask refunds?", origin=origin)
        )
        await app.settled()
        [first, *_] = adapter.ok_calls("send")
        assert first.origin  # the deferred interaction response, not a second message
        assert adapter.messages[first.message_id].text_markdown == "Refunds take five days."
        await app.pipeline(
            Command(event_id="i2", ref=where(), author=ADA, text="help", origin=origin)
        )
        await app.settled()
        assert "`reset`" in adapter.private_texts()[-1]
        assert adapter.private[-1][3].token == "itok"  # privately, through the interaction
    finally:
        await app.stop()
