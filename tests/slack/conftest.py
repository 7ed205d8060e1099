"""A started SlackAdapter on the fake Web API, mounted on a loopback aiohttp server, with a
recording sink (the transport tests need no conversation core)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from adapters.slack.adapter import SlackAdapter
from bot.events import Event
from tests.fakes.slack_api import FakeSlackApi, SlackEventSender

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Rig:
    fake: FakeSlackApi
    adapter: SlackAdapter
    sender: SlackEventSender
    events: list[Event] = field(default_factory=list)

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Poll a plain predicate (the sink appends to a list) until it holds."""
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def rig(fake_slack: FakeSlackApi) -> AsyncIterator[Rig]:
    adapter = SlackAdapter(
        bot_token=fake_slack.token,
        signing_secret=SECRET,
        api_url=fake_slack.api_url,
    )
    app = web.Application()
    adapter.mount(app)
    runner, url = await serve(app)
    events: list[Event] = []

    async def sink(event: Event) -> None:
        events.append(event)

    await adapter.start(sink)
    async with SlackEventSender(f"{url}/slack/events", SECRET) as sender:
        yield Rig(fake=fake_slack, adapter=adapter, sender=sender, events=events)
    await adapter.stop()
    await runner.cleanup()
