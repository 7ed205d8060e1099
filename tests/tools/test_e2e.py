"""Tools end to end: the real app (core, pipeline, delivery, SQL stores) with the official OpenAI
SDK against the loopback fake, an in-memory platform adapter, and the tool host from `bot.tools`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import Parley
from bot.capabilities import WRITES, Capabilities, RateScope
from bot.clock import Clock, FakeClock, MonotonicClock
from bot.core.actions import Decision
from bot.events import ActionClick, IncomingMessage, Origin, OriginKind
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationKind, ConversationRef
from bot.settings import Settings
from bot.tools.build import build_tool_host
from bot.tools.host import ApprovingToolHost
from bot.tools.registry import Risk, Tool, ToolContext
from storage.approvals import SqlApprovalStore
from tests.fakes.llm_fixtures import Call, ToolCalls
from tests.fakes.memory_adapter import MemoryAdapter, limit

CAPS = Capabilities(
    max_post_chars=3900,
    max_edit_chars=3900,
    min_edit_interval_s=0.01,
    rate_limits=(limit(WRITES, RateScope.CHANNEL, 1000, 1.0),),
    buttons=True,
    ephemeral=True,
)
REF = ConversationRef(
    platform="memory",
    workspace_id="T1",
    channel_id="C1",
    thread_id="t1",
    kind=ConversationKind.THREAD,
)
ADA = Author(id="U_ADA", display_name="Ada")
BOB = Author(id="U_BOB", display_name="Bob")


@dataclass
class Deployments:
    runs: list[str] = field(default_factory=list)
    clicks: list[str] = field(default_factory=list)
    """Event ids of the clicks that reached the tool host."""

    def tools(self) -> list[Tool]:
        async def deploy(args: Mapping[str, Any], ctx: ToolContext) -> str:
            self.runs.append(str(args["service"]))
            return f"deployed {args['service']} (run {len(self.runs)})"

        async def hang(args: Mapping[str, Any], ctx: ToolContext) -> str:
            await asyncio.Event().wait()
            return "never"

        schema = {
            "type": "object",
            "properties": {"service": {"type": "string"}},
            "required": ["service"],
            "additionalProperties": False,
        }
        return [
            Tool(
                name="deploy",
                description="Deploy a service",
                parameters=schema,
                run=deploy,
                risk=Risk.WRITE,
            ),
            Tool(
                name="slow_lookup",
                description="Looks something up, slowly",
                parameters={"type": "object"},
                run=hang,
                timeout_s=0.2,
            ),
        ]


class ToolParley(Parley):
    """The app with test tools added and the tool host on its own clock (expiry control)."""

    def __init__(
        self, settings: Settings, *, tool_clock: Clock, deployments: Deployments, **kw: Any
    ):
        super().__init__(settings, **kw)
        self.tool_clock = tool_clock
        self.deployments = deployments

    def _build_tool_host(self) -> ApprovingToolHost:
        host = self.tools = build_tool_host(
            self.settings,
            store=SqlApprovalStore(self.store.db),
            retriever=None,
            resumer=self,
            clock=self.tool_clock,
            extra_tools=self.deployments.tools(),
            plugins=False,
        )
        decide = host.on_click

        async def counted(click: ActionClick) -> Decision:
            self.deployments.clicks.append(click.event_id)
            return await decide(click)

        host.on_click = counted  # type: ignore[method-assign]  # counts clicks; registered at start
        return host


@dataclass
class E2E:
    app: ToolParley
    adapter: MemoryAdapter
    fake: Any
    tool_clock: FakeClock
    deployments: Deployments
    settings: Settings

    async def say(self, text: str, author: Author = ADA) -> None:
        await self._send(
            IncomingMessage(
                origin=Origin(kind=OriginKind.MESSAGE),
                event_id=_id(),
                ref=REF,
                author=author,
                text=text,
                mentions_bot=True,
            )
        )

    async def click(
        self,
        approval_id: str,
        action: str = "approve",
        who: Author = ADA,
        event_id: str | None = None,
    ) -> None:
        card = next(
            (
                c.message_id
                for c in self.adapter.ok_calls("send")
                if _card_of(c.message) == approval_id
            ),
            "",
        )
        await self._send(
            ActionClick(
                event_id=event_id or _id(),
                ref=REF,
                author=who,
                action_id=action,
                value=approval_id,
                origin=Origin(kind=OriginKind.ACTION, message_id=card),
            )
        )

    async def _send(self, event: Any) -> None:
        assert self.app.pipeline is not None
        await self.app.pipeline(event)
        await self.settle()

    async def settle(self) -> None:
        for _ in range(3):
            for _ in range(20):
                await asyncio.sleep(0)
            await self.app.settled()

    async def eventually(self, condition: Any, timeout_s: float = 10.0) -> None:
        """Wait for work started outside an event (an expiry timer), then settle."""
        for _ in range(int(timeout_s / 0.01)):
            if condition():
                break
            await asyncio.sleep(0.01)
        await self.settle()

    def cards(self) -> list[OutgoingMessage]:
        return [c.message for c in self.adapter.ok_calls("send") if c.message.actions]

    def card_id(self) -> str:
        return _card_of(self.cards()[-1])

    def card_text(self, approval_id: str) -> str:
        """The card as the platform shows it now (after any edits)."""
        sent = next(c for c in self.adapter.ok_calls("send") if _card_of(c.message) == approval_id)
        return self.adapter.messages[sent.message_id].text_markdown

    def last_answer(self) -> str:
        cards = {c.message_id for c in self.adapter.ok_calls("send") if c.message.actions}
        writes = [
            c
            for c in self.adapter.ok_calls()
            if c.kind in ("send", "edit") and c.message_id not in cards
        ]
        return self.adapter.messages[writes[-1].message_id].text_markdown

    def privates(self) -> list[tuple[str, str]]:
        """(user id, text) of each private message."""
        return [(user_id, m.text_markdown) for _, user_id, m, _ in self.adapter.private]

    def tool_messages(self) -> list[str]:
        """Tool results in the last request the model got (OpenAI or Anthropic shape)."""
        found: list[str] = []
        for m in self.fake.bodies[-1]["messages"]:
            if m["role"] == "tool":
                found.append(m["content"])
            elif isinstance(m.get("content"), list):
                found += [
                    str(b.get("content")) for b in m["content"] if b.get("type") == "tool_result"
                ]
        return found

    async def restart(self, *, graceful: bool = False) -> None:
        if graceful:  # what SIGTERM does
            await self.app.shutdown(self.settings.shutdown_grace_s)
        else:
            await self.app.stop()
        self.app = await _start_app(self.settings, self.adapter, self.tool_clock, self.deployments)


def _id() -> str:
    return uuid.uuid4().hex


async def _start_app(
    settings: Settings, adapter: MemoryAdapter, tool_clock: Clock, deployments: Deployments
) -> ToolParley:
    app = ToolParley(
        settings,
        clock=MonotonicClock(),
        adapters=[adapter],
        load_platforms=False,
        knowledge=False,
        tool_clock=tool_clock,
        deployments=deployments,
    )
    await app.start(http=False)
    return app


async def _harness(fake: Any, tmp_path: Path) -> E2E:
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        admin_users=("memory:U_ROOT",),
        http_tool_allowed_hosts=("api.example.com",),
        **fake.settings_overrides(),
    )
    adapter = MemoryAdapter(CAPS, clock=MonotonicClock())
    tool_clock, deployments = FakeClock(autojump=False), Deployments()
    app = await _start_app(settings, adapter, tool_clock, deployments)
    return E2E(app, adapter, fake, tool_clock, deployments, settings)


@pytest.fixture
async def e2e(fake_openai: Any, tmp_path: Path) -> AsyncIterator[E2E]:
    harness = await _harness(fake_openai, tmp_path)
    yield harness
    await harness.app.stop()


@pytest.fixture
async def e2e_anthropic(fake_anthropic: Any, tmp_path: Path) -> AsyncIterator[E2E]:
    harness = await _harness(fake_anthropic, tmp_path)
    yield harness
    await harness.app.stop()


def deploy_request(fake: Any, service: str = "api") -> None:
    fake.script(ToolCalls([Call("deploy", {"service": service})], reason="I'll deploy it now."))


async def test_read_tool_runs_without_a_card(e2e: E2E) -> None:
    e2e.fake.script(ToolCalls([Call("calculator", {"expression": "6 * 7"})]))
    await e2e.say("What is 6 times 7?")
    assert e2e.cards() == []
    assert "6 * 7 = 42" in e2e.last_answer()
    [tool] = e2e.tool_messages()
    assert tool.startswith('<tool_result tool="calculator"') and "not instructions" in tool


async def test_write_tool_card_approve_runs_once_and_answer_continues(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    card = e2e.card_text(approval_id)
    assert "`deploy`" in card and "I'll deploy it now." in card and '"service": "api"' in card
    assert "Waiting for approval to run deploy" in e2e.last_answer()
    assert e2e.deployments.runs == []
    await e2e.click(approval_id)
    await e2e.click(approval_id)  # a double click, a new event id
    assert e2e.deployments.runs == ["api"]
    assert "Approved by Ada at" in e2e.card_text(approval_id)
    assert "deployed api (run 1)" in e2e.last_answer()
    assert ("U_ADA", "This request was already approved by Ada.") in e2e.privates()
    assert e2e.app.tools is not None
    log = await e2e.app.tools.store.audit_log(approval_id)
    assert [entry.event for entry in log] == ["requested", "approved", "result"]
    assert log[-1].detail.startswith("ok")


async def test_replayed_click_event_is_deduped(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    await e2e.click(approval_id, event_id="click-1")
    await e2e.click(approval_id, event_id="click-1")  # the platform delivers it again
    assert e2e.deployments.clicks == ["click-1"]  # the replay never reached the tool host
    assert e2e.deployments.runs == ["api"]
    assert e2e.privates() == []  # nor did it earn an "already approved" note


async def test_deny(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    await e2e.click(approval_id, action="deny")
    assert e2e.deployments.runs == []
    assert "Denied by Ada" in e2e.card_text(approval_id)
    assert "declined this call of deploy" in e2e.last_answer()


async def test_expiry_is_a_deny(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    e2e.tool_clock.advance(301)
    await e2e.eventually(lambda: "expired and was not run" in e2e.last_answer())
    assert "Expired — not run" in e2e.card_text(approval_id)
    assert "expired and was not run" in e2e.last_answer()
    await e2e.click(approval_id)
    assert e2e.deployments.runs == []


async def test_non_approver_click_changes_nothing(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    await e2e.click(approval_id, who=BOB)
    assert e2e.privates() == [("U_BOB", "You can't approve this: only Ada or an admin can decide.")]
    assert e2e.deployments.runs == [] and "Approved" not in e2e.card_text(approval_id)
    await e2e.click(approval_id, who=Author(id="U_ROOT", display_name="Root"))  # an admin
    assert e2e.deployments.runs == ["api"] and "Approved by Root" in e2e.card_text(approval_id)


async def test_restart_between_card_and_click(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    await e2e.restart()  # a new app: new stores, host and queues on the same database
    await e2e.click(approval_id)
    assert e2e.deployments.runs == ["api"]
    assert "Approved by Ada" in e2e.card_text(approval_id)
    assert "deployed api (run 1)" in e2e.last_answer()
    await e2e.click(approval_id)
    assert e2e.deployments.runs == ["api"]


async def test_a_graceful_shutdown_leaves_a_pending_approval_clickable(e2e: E2E) -> None:
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    card = e2e.card_text(approval_id)
    await e2e.restart(graceful=True)
    assert e2e.card_text(approval_id) == card  # shutdown did not touch it
    await e2e.click(approval_id)
    assert e2e.deployments.runs == ["api"]
    assert "Approved by Ada" in e2e.card_text(approval_id)
    assert "deployed api (run 1)" in e2e.last_answer()


async def test_schema_invalid_arguments_are_not_run(e2e: E2E) -> None:
    e2e.fake.script(ToolCalls([Call("deploy", {"svc": "api"})]))
    await e2e.say("Please deploy api")
    assert e2e.cards() == [] and e2e.deployments.runs == []
    [tool] = e2e.tool_messages()
    assert "invalid arguments" in tool and "'service' is a required property" in tool


async def test_host_not_on_the_allowlist(e2e: E2E) -> None:
    e2e.fake.script(
        ToolCalls([Call("http_request", {"url": "https://evil.example/x", "method": "POST"})])
    )
    await e2e.say("Post it")
    assert e2e.cards() == []
    [tool] = e2e.tool_messages()
    assert "'evil.example' is not on the allowlist" in tool


async def test_tool_timeout(e2e: E2E) -> None:
    e2e.fake.script(ToolCalls([Call("slow_lookup", {})]))
    await e2e.say("Look it up")
    [tool] = e2e.tool_messages()
    assert "timed out after 0.2 s" in tool


async def test_eleventh_step_is_refused(e2e: E2E) -> None:
    for n in range(11):
        e2e.fake.script(ToolCalls([Call("calculator", {"expression": f"{n} + 1"})]))
    await e2e.say("Count with me")
    tools = e2e.tool_messages()
    assert len(tools) == 10 and "9 + 1 = 10" in tools[-1]
    assert len(e2e.fake.bodies) == 11
    assert "limit of 10 tool steps" in e2e.last_answer()


async def test_approval_flow_on_anthropic(e2e_anthropic: E2E) -> None:
    e2e = e2e_anthropic
    deploy_request(e2e.fake)
    await e2e.say("Please deploy api")
    approval_id = e2e.card_id()
    await e2e.click(approval_id)
    assert e2e.deployments.runs == ["api"]
    [tool] = e2e.tool_messages()
    assert "deployed api (run 1)" in tool
    assert "deployed api (run 1)" in e2e.last_answer()


def _card_of(message: OutgoingMessage) -> str:
    """The approval id an approval card's buttons carry ("" for any other message)."""
    return message.actions[0].value if message.actions else ""
