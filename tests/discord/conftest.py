"""A started DiscordAdapter (discord.py's real client) on the loopback Discord fake, with a
recording sink: the transport tests need no conversation core."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from adapters.discord.adapter import DiscordAdapter
from bot.adapter import Announcement
from bot.events import ActionClick, ActionResult, Event
from tests.fakes.discord_api import FakeDiscord


@dataclass
class Rig:
    fake: FakeDiscord
    adapter: DiscordAdapter
    events: list[Event] = field(default_factory=list)
    announcements: list[Announcement] = field(default_factory=list)
    click_result: ActionResult | None = None
    click_delay_s: float = 0.0

    async def sink(self, event: Event) -> ActionResult | None:
        self.events.append(event)
        if isinstance(event, ActionClick):
            await asyncio.sleep(self.click_delay_s)
            return self.click_result
        return None

    async def wait_for(self, condition: Callable[[], Any], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async def next_event(self, count: int = 1) -> Event:
        await self.wait_for(lambda: len(self.events) >= count)
        return self.events[count - 1]


async def start_rig(fake: FakeDiscord, *, token: str = "", **options: Any) -> Rig:
    options.setdefault("guild_ready_timeout_s", 0.05)
    adapter = DiscordAdapter(token=token or fake.token, api_url=fake.api_url, **options)
    rig = Rig(fake=fake, adapter=adapter)
    adapter.set_rate_listener(rig.announcements.append)
    await adapter.start(rig.sink)
    return rig


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def rig(fake_discord: FakeDiscord) -> AsyncIterator[Rig]:
    rig = await start_rig(fake_discord)
    try:
        yield rig
    finally:
        await rig.adapter.stop()
