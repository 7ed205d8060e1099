"""Strangers cannot cause a 5xx or an ERROR line on /api/messages (the real HTTP server and the
real Teams adapter, as `parley run` mounts them), and a body over the cap is refused unread."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import structlog

from adapters.teams.adapter import TeamsAdapter
from adapters.teams.auth import TeamsAuth
from adapters.teams.door import MAX_ACTIVITY_BYTES
from bot.events import Event
from bot.http import HttpServer, build_http_app
from tests.fakes.teams_connector import FakeConnector

JSON = "application/json"
DEEP = b"[" * 50_000 + b"]" * 50_000


async def _ready() -> dict[str, str]:
    return {}


@pytest.fixture
async def fake_connector() -> AsyncIterator[FakeConnector]:
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def door(fake_connector: FakeConnector) -> AsyncIterator[str]:
    adapter = TeamsAdapter(TeamsAuth(allow_anonymous=True))
    app = build_http_app(_ready)
    adapter.mount(app)
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()

    async def sink(event: Event) -> None:
        return None

    await adapter.start(sink)
    try:
        yield f"http://127.0.0.1:{server.port}/api/messages"
    finally:
        await adapter.stop()
        await server.stop()


@pytest.fixture
def logged() -> Any:
    with structlog.testing.capture_logs() as records:
        yield records


async def post(url: str, body: bytes, *, content_type: str = JSON, **headers: str) -> int:
    async with aiohttp.ClientSession() as session:
        hdrs = {"Content-Type": content_type, **headers}
        async with session.post(url, data=body, headers=hdrs) as resp:
            return resp.status


def chunked(body: bytes) -> Any:
    """The body without a Content-Length (chunked), so only the bytes read can tell its size."""

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    return pieces()


def activity(fake: FakeConnector, **fields: Any) -> dict[str, Any]:
    return {**fake.inbound(fake.personal_chat(), "hello"), **fields}


async def test_junk_never_gives_5xx_or_an_error_line(
    door: str,
    fake_connector: FakeConnector,
    caplog: pytest.LogCaptureFixture,
    logged: list[dict[str, Any]],
) -> None:
    url = door
    caplog.set_level(logging.INFO)
    good = activity(fake_connector)
    junk: dict[str, tuple[bytes, str]] = {
        "invalid json": (b"{not json", JSON),
        "null": (b"null", JSON),
        "invalid utf-8": (b'{"type": "\xff\xfe"}', JSON),
        "nested 50,000 deep": (DEEP, JSON),
        "a list": (b"[1, 2]", JSON),
        "no type": (b'{"text": "hi"}', JSON),
        "not json content": (b"hello", "text/plain"),
        "empty": (b"", JSON),
    }
    wrongs: tuple[object, ...] = (None, 0, "x", [], [1], {"id": []})
    for field in ("from", "conversation", "recipient", "entities", "channelData", "value", "text"):
        for wrong in wrongs:
            junk[f"{field}={wrong!r}"] = (json.dumps({**good, field: wrong}).encode(), JSON)
    statuses = {
        name: await post(url, body, content_type=kind) for name, (body, kind) in junk.items()
    }

    assert all(status < 500 for status in statuses.values()), statuses
    assert statuses["nested 50,000 deep"] == 400 and statuses["invalid utf-8"] == 400
    assert statuses["not json content"] == 415
    stdlib = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    ours = [r for r in logged if r.get("log_level") in ("error", "critical", "exception")]
    assert stdlib == [] and ours == []
    refused = [r for r in logged if r["event"] == "teams.request_refused"]
    assert len(refused) == sum(1 for s in statuses.values() if 400 <= s < 500)  # one line each
    assert all("body" not in r for r in refused)


async def test_a_body_over_the_cap_is_refused_413_with_one_warning(
    door: str, fake_connector: FakeConnector, logged: list[dict[str, Any]]
) -> None:
    url = door
    base = activity(fake_connector)
    padding = MAX_ACTIVITY_BYTES - len(json.dumps({**base, "text": ""}).encode())
    at_cap = json.dumps({**base, "text": "a" * padding}).encode()
    assert len(at_cap) == MAX_ACTIVITY_BYTES
    assert await post(url, at_cap) == 201  # exactly at the cap: accepted

    over = json.dumps({**base, "text": "a" * (padding + 1)}).encode()
    assert await post(url, over) == 413  # by its Content-Length, unread
    async with (  # and without one, by what was read
        aiohttp.ClientSession() as session,
        session.post(url, data=chunked(over), headers={"Content-Type": JSON}) as r,
    ):
        assert r.status == 413
    refused = [r for r in logged if r["event"] == "teams.request_refused"]
    assert [r["status"] for r in refused] == [413, 413]
    assert all(r["log_level"] == "warning" and "aaaa" not in repr(r) for r in refused)


async def test_while_draining_the_route_answers_503_and_health_still_answers(
    fake_connector: FakeConnector,
) -> None:
    """What a shutdown does to /api/messages (bot.shutdown): Teams is told to come back later."""
    adapter = TeamsAdapter(TeamsAuth(allow_anonymous=True))
    app = build_http_app(_ready, draining=lambda: True)
    adapter.mount(app)
    server = HttpServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        body = json.dumps(activity(fake_connector)).encode()
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{server.port}"
            async with session.post(
                f"{url}/api/messages", data=body, headers={"Content-Type": JSON}
            ) as r:
                assert r.status == 503 and r.headers["Retry-After"] == "30"
            async with session.get(f"{url}/healthz") as r:
                assert r.status == 200
    finally:
        await adapter.stop()
        await server.stop()
