from __future__ import annotations

import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.app import Parley
from bot.capabilities import WRITES, Capabilities, Placement, RateScope
from bot.clock import FakeClock
from bot.events import IncomingMessage, Origin, OriginKind
from bot.llm.router import LLMRouter
from bot.refs import Author, ConversationKind, ConversationRef
from bot.settings import Settings
from tests.fakes.memory_adapter import MemoryAdapter, limit
from tests.fakes.scripted_model import ScriptedModel
from tests.fakes.stepped_model import Step, SteppedProvider

FAST = Capabilities(
    max_post_chars=3900,
    max_edit_chars=3900,
    min_edit_interval_s=0.5,
    rate_limits=(limit(WRITES, RateScope.CHANNEL, 20, 10.0),),
    buttons=True,
    ephemeral=True,
    channel_reply=Placement.INLINE,
)
ADA = Author(id="U1", display_name="Ada")


def make_settings(tmp_path, **overrides) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **overrides)


@dataclass
class Harness:
    app: Parley
    adapter: MemoryAdapter
    model: ScriptedModel
    seq: int = 0

    async def say(
        self, text: str, *, ref: ConversationRef | None = None, author: Author = ADA, **kw
    ) -> None:
        self.seq += 1
        kw.setdefault("mentions_bot", True)
        event = IncomingMessage(
            event_id=f"ev{self.seq}-{uuid.uuid4().hex[:6]}",
            ref=ref or channel(),
            author=author,
            text=text,
            origin=Origin(kind=OriginKind.MESSAGE, message_id=f"u{self.seq}"),
            **kw,
        )
        assert self.app.pipeline is not None
        await self.app.pipeline(event)
        await self.app.settled()

    def last_text(self) -> str:
        sent = [c for c in self.adapter.ok_calls() if c.kind in ("send", "edit")]
        return self.adapter.messages[sent[-1].message_id].text_markdown


def channel(thread: str | None = None) -> ConversationRef:
    return ConversationRef(
        platform="memory",
        workspace_id="T1",
        channel_id="C1",
        thread_id=thread,
        kind=ConversationKind.THREAD if thread else ConversationKind.CHANNEL,
    )


async def start_harness(
    tmp_path, model: ScriptedModel | None = None, *, clock: FakeClock | None = None, **overrides
) -> Harness:
    clock = clock or FakeClock()
    adapter = MemoryAdapter(FAST, clock=clock)
    model = model or ScriptedModel()
    app = Parley(
        make_settings(tmp_path, **overrides),
        clock=clock,
        chat_model=model,
        adapters=[adapter],
        load_platforms=False,
        knowledge=False,
    )
    await app.start(http=False)
    return Harness(app=app, adapter=adapter, model=model)


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    h = await start_harness(tmp_path)
    yield h
    await h.app.stop()


async def start_stepped(
    tmp_path, *steps: Step, **overrides
) -> tuple[Harness, SteppedProvider, FakeClock]:
    """The app with the real router over a `SteppedProvider`, on a clock that only `drive`
    moves (tests of timing policy: turn deadlines, graceful shutdown)."""
    clock = FakeClock(autojump=False)
    provider = SteppedProvider(clock, deque(steps))
    settings = make_settings(tmp_path, **overrides)
    router = LLMRouter([provider], clock=clock, turn_deadline_s=settings.llm_turn_deadline_s)
    adapter = MemoryAdapter(FAST, clock=clock)
    app = Parley(
        settings,
        clock=clock,
        chat_model=router,
        adapters=[adapter],
        load_platforms=False,
        knowledge=False,
    )
    await app.start(http=False)
    return Harness(app=app, adapter=adapter, model=ScriptedModel()), provider, clock
