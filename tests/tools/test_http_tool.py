from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.llm.types import ToolCall
from bot.refs import Author, ConversationRef
from bot.tools.builtin.http import HostAllowlist, http_request_tool
from bot.tools.registry import CheckedCall, Risk, ToolContext, ToolRegistry

SEEN = web.AppKey("seen", list[str])
CTX = ToolContext(
    ref=ConversationRef(platform="console", workspace_id="local", channel_id="c"),
    author=Author(id="u"),
    call_id="c1",
    turn_id="t1",
    now=datetime(2030, 1, 1, tzinfo=UTC),
)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    seen: list[str] = []

    async def hello(request: web.Request) -> web.Response:
        seen.append(request.method)
        return web.Response(text=f"hello {request.method} {await request.text()}")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"z" * 200_000)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(location="/hello")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(location=f"http://localhost:{request.url.port}/hello")

    app = web.Application()
    app.router.add_route("*", "/hello", hello)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/hop", hop)
    app.router.add_get("/away", away)
    app[SEEN] = seen
    srv = TestServer(app, host="127.0.0.1")
    async with srv:  # `__aenter__` is typed as returning the base class
        yield srv


def test_allowlist_is_exact() -> None:
    allow = HostAllowlist(["api.example.com", "127.0.0.1:8080"])
    assert allow.refusal("https://api.example.com/v1") is None
    assert allow.refusal("https://API.example.com/v1") is None
    assert allow.refusal("http://127.0.0.1:8080/") is None
    assert "not on the allowlist" in (allow.refusal("http://127.0.0.1:9090/") or "")
    assert "not on the allowlist" in (allow.refusal("https://evil.api.example.com/") or "")
    assert "not on the allowlist" in (allow.refusal("https://api.example.com.evil.io/") or "")
    assert "not on the allowlist" in (allow.refusal("https://api.example.com@evil.io/") or "")
    assert "only http" in (allow.refusal("file:///etc/passwd") or "")
    assert "only http" in (allow.refusal("ftp://api.example.com/") or "")


def test_get_is_read_and_post_needs_approval_and_host_is_checked_first() -> None:
    registry = ToolRegistry([http_request_tool(["api.example.com"])])
    get = registry.check(
        ToolCall(id="1", name="http_request", arguments={"url": "https://api.example.com/"})
    )
    post = registry.check(
        ToolCall(
            id="2",
            name="http_request",
            arguments={"url": "https://api.example.com/", "method": "POST"},
        )
    )
    off = registry.check(
        ToolCall(
            id="3", name="http_request", arguments={"url": "https://other.org/", "method": "POST"}
        )
    )
    assert isinstance(get, CheckedCall) and get.risk is Risk.READ
    assert isinstance(post, CheckedCall) and post.risk is Risk.EXTERNAL
    assert not isinstance(off, CheckedCall) and "'other.org' is not on the allowlist" in off.content


async def test_requests_redirects_and_caps(server: TestServer) -> None:
    tool = http_request_tool(["127.0.0.1"], timeout_s=0.5, max_body_bytes=1000)
    base = f"http://127.0.0.1:{server.port}"
    out = await tool.run({"url": f"{base}/hello", "method": "POST", "body": "data"}, CTX)
    assert out.startswith("HTTP 200 OK") and "hello POST data" in out
    hopped = await tool.run({"url": f"{base}/hop"}, CTX)
    assert "hello GET" in hopped and f"URL: {base}/hello" in hopped
    away = await tool.run({"url": f"{base}/away"}, CTX)
    assert "redirect to http://localhost" in away and "not on the allowlist" in away
    assert server.app[SEEN] == ["POST", "GET"]
    big = await tool.run({"url": f"{base}/big"}, CTX)
    assert big.endswith("[body cut at 1000 bytes]") and big.count("z") == 1000
    with pytest.raises(TimeoutError):
        await tool.run({"url": f"{base}/slow"}, CTX)
