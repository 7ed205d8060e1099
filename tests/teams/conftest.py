"""A started TeamsAdapter (anonymous, as for local testing) mounted on a loopback aiohttp
server, replying to the fake Bot Connector, with a recording sink (the transport tests need no
conversation core)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.teams.adapter import TeamsAdapter
from adapters.teams.auth import TeamsAuth
from bot.events import ActionResult, Event
from tests.fakes.teams_connector import FakeConnector


@dataclass
class Rig:
    fake: FakeConnector
    adapter: TeamsAdapter
    url: str
    session: aiohttp.ClientSession
    events: list[Event] = field(default_factory=list)
    result: ActionResult | None = None
    """What the sink answers for a click."""
    delay_s: float = 0.0

    async def post(self, activity: dict[str, Any], *, token: str = "") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(self.url, json=activity, headers=headers) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
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


async def start_rig(fake: FakeConnector, auth: TeamsAuth, **kw: Any) -> tuple[Rig, web.AppRunner]:
    adapter = TeamsAdapter(auth, **kw)
    app = web.Application()
    adapter.mount(app)
    runner, url = await serve(app)
    session = aiohttp.ClientSession()
    rig = Rig(fake=fake, adapter=adapter, url=f"{url}/api/messages", session=session)

    async def sink(event: Event) -> ActionResult | None:
        rig.events.append(event)
        if rig.delay_s:
            await asyncio.sleep(rig.delay_s)
        return rig.result

    await adapter.start(sink)
    return rig, runner


async def stop_rig(rig: Rig, runner: web.AppRunner) -> None:
    await rig.session.close()
    await rig.adapter.stop()
    await runner.cleanup()


@pytest.fixture
async def fake_connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def rig(fake_connector: FakeConnector) -> AsyncIterator[Rig]:
    r, runner = await start_rig(fake_connector, TeamsAuth(allow_anonymous=True))
    yield r
    await stop_rig(r, runner)
