"""Fakes for the tool host's boundaries: a recording delivery, a recording resumer, test tools,
and `hook`, a loopback HTTP server recording the bodies POSTed to its `/hook` (`app[HITS]`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.clock import FakeClock
from bot.core.actions import Decision
from bot.core.toolhost import TurnContext
from bot.delivery.engine import Sender
from bot.events import ActionClick, Command, Origin, OriginKind
from bot.llm.types import ChatMessage, ToolCall
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle
from bot.tools.host import ApprovingToolHost, HostLimits
from bot.tools.memory import MemoryApprovalStore
from bot.tools.registry import Risk, Tool, ToolContext, ToolRegistry
from bot.tools.wallclock import WallClock

REF = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1", thread_id="1.0")
ADA = Author(id="U_ADA", display_name="Ada")
BOB = Author(id="U_BOB", display_name="Bob")
ROOT = Author(id="U_ROOT", display_name="Root")
ORIGIN = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

HITS = web.AppKey("hits", list[str])


@pytest.fixture
async def hook() -> AsyncIterator[TestServer]:
    async def receive(request: web.Request) -> web.Response:
        request.app[HITS].append(await request.text())
        return web.Response(text="stored")

    app = web.Application()
    app[HITS] = []
    app.router.add_post("/hook", receive)
    server = TestServer(app, host="127.0.0.1")
    async with server:  # `__aenter__` is typed as returning the base class
        yield server


class FakeAdapter:
    def __init__(self) -> None:
        self.private: list[tuple[str, str]] = []


class FakeDelivery:
    def __init__(self) -> None:
        self.adapter = FakeAdapter()
        self.posts: list[OutgoingMessage] = []
        self.edits: list[tuple[str, OutgoingMessage]] = []

    async def tell(self, sender: Sender, message: OutgoingMessage | str) -> None:
        text = message if isinstance(message, str) else message.text_markdown
        self.adapter.private.append((sender.author.id, text))

    async def post(
        self,
        ref: ConversationRef,
        message: OutgoingMessage,
        *,
        priority: bool = True,
        origin: Origin | None = None,
    ) -> MessageHandle:
        self.posts.append(message)
        return MessageHandle(ref=ref, message_id=f"m{len(self.posts)}")

    async def update(
        self, handle: MessageHandle, message: OutgoingMessage, *, priority: bool = True
    ) -> None:
        self.edits.append((handle.message_id, message))


@dataclass
class Resumed:
    ref: ConversationRef
    author: Author
    messages: list[ChatMessage]
    turn_id: str
    step: int


class FakeResumer:
    def __init__(self) -> None:
        self.calls: list[Resumed] = []

    async def resume(
        self,
        ref: ConversationRef,
        author: Author,
        messages: Sequence[ChatMessage],
        *,
        turn_id: str,
        step: int,
    ) -> None:
        self.calls.append(Resumed(ref, author, list(messages), turn_id, step))


@dataclass
class Runs:
    """Counts executions of the test tools."""

    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def make_tools(runs: Runs) -> list[Tool]:
    async def echo(args: Mapping[str, Any], ctx: ToolContext) -> str:
        runs.log.append(("echo", dict(args)))
        return f"echo: {args['text']}"

    async def deploy(args: Mapping[str, Any], ctx: ToolContext) -> str:
        runs.log.append(("deploy", dict(args)))
        await asyncio.sleep(0)
        return f"deployed {args['service']}"

    async def hang(args: Mapping[str, Any], ctx: ToolContext) -> str:
        await asyncio.Event().wait()
        return "never"

    text = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    service = {
        "type": "object",
        "properties": {"service": {"type": "string"}, "token": {"type": "string"}},
        "required": ["service"],
    }
    return [
        Tool(name="echo", description="Echo", parameters=text, run=echo, status="Echoing…"),
        Tool(name="deploy", description="Deploy", parameters=service, run=deploy, risk=Risk.WRITE),
        Tool(
            name="hang", description="Hang", parameters={"type": "object"}, run=hang, timeout_s=0.05
        ),
    ]


@dataclass
class Harness:
    host: ApprovingToolHost
    store: MemoryApprovalStore
    delivery: FakeDelivery
    resumer: FakeResumer
    clock: FakeClock
    runs: Runs

    def new_host(self, **limits: Any) -> ApprovingToolHost:
        """A second host on the same store: what a restarted process sees."""
        return build_host(self.store, self.resumer, self.host.wall, self.runs, **limits)

    def turn(
        self, *calls: ToolCall, step: int = 1, turn_id: str = "turn1", reason: str = ""
    ) -> TurnContext:
        messages = (
            ChatMessage(role="system", content="sys"),
            ChatMessage(role="user", content="please"),
            ChatMessage(role="assistant", content=reason, tool_calls=calls),
        )
        return TurnContext(ref=REF, author=ADA, messages=messages, step=step, turn_id=turn_id)

    def click(
        self, approval_id: str, action: str = "approve", who: Author = ADA, event: str = "e"
    ) -> ActionClick:
        found = self.store.approvals.get(approval_id)
        card = found.card_message_id if found is not None else None
        return ActionClick(
            event_id=event,
            ref=REF,
            author=who,
            action_id=action,
            value=approval_id,
            origin=Origin(kind=OriginKind.ACTION, message_id=card or ""),
        )

    async def press(self, click: ActionClick, host: ApprovingToolHost | None = None) -> Decision:
        """What the pipeline does with a click: decide now, show the result (edit the card,
        or a private note), then run the queued part."""
        decision = await (host or self.host).on_click(click)
        result = decision.result
        if result.update is not None and click.origin.message_id:
            await self.delivery.update(
                MessageHandle(ref=click.ref, message_id=click.origin.message_id), result.update
            )
        if result.private is not None:
            await self.delivery.tell(click, result.private)
        if decision.then is not None:
            await decision.then()
        return decision

    def command(self, text: str, who: Author = ADA) -> Command:
        return Command(
            event_id="c", ref=REF, author=who, text=text, origin=Origin(kind=OriginKind.COMMAND)
        )


def build_host(
    store: MemoryApprovalStore, resumer: FakeResumer, wall: WallClock, runs: Runs, **limits: Any
) -> ApprovingToolHost:
    limits.setdefault("approval_timeout_s", 300.0)
    limits.setdefault("admins", ("slack:U_ROOT",))
    return ApprovingToolHost(
        registry=ToolRegistry(make_tools(runs)),
        store=store,
        resumer=resumer,
        wall=wall,
        limits=HostLimits(**limits),
    )


@pytest.fixture
async def harness() -> Any:
    clock = FakeClock(autojump=False)
    store, resumer, runs = MemoryApprovalStore(), FakeResumer(), Runs()
    host = build_host(store, resumer, WallClock(clock, origin=ORIGIN), runs)
    yield Harness(
        host=host, store=store, delivery=FakeDelivery(), resumer=resumer, clock=clock, runs=runs
    )
    await host.close()
