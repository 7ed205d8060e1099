"""What an operator sees of each turn: one INFO line with its numbers, and the metrics; and
`kb status`, which names the server's files, only for admins."""

from __future__ import annotations

import structlog

from bot import metrics
from bot.clock import FakeClock
from bot.core.access import Access
from bot.core.commands import Commands
from bot.core.grammar import Invocation
from bot.delivery import Delivery
from bot.events import Command, Origin, OriginKind
from bot.refs import Author
from tests.core.conftest import ADA, Harness, channel
from tests.fakes.memory_adapter import MemoryAdapter


def sample(name: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name, labels)
    return value or 0.0


async def test_one_info_line_per_answered_turn(harness: Harness) -> None:
    before = sample("parley_first_text_seconds_count", platform="memory")
    with structlog.testing.capture_logs() as logs:
        await harness.say("hello there")
    [line] = [entry for entry in logs if entry["event"] == "turn answered"]
    assert line["log_level"] == "info"
    assert line["platform"] == "memory" and line["conversation"] == channel().memory_key
    assert line["provider"] == "scripted" and line["model"] == "scripted-1"
    assert line["output_tokens"] > 0 and line["total_s"] >= 0
    assert line["first_text_s"] is not None and line["posts"] >= 1
    assert sample("parley_first_text_seconds_count", platform="memory") == before + 1


class _Knowledge:
    async def status(self) -> str:
        return "12 documents from /srv/parley/docs"


async def test_kb_status_is_for_admins_only() -> None:
    clock = FakeClock()
    adapter = MemoryAdapter(clock=clock)
    commands = Commands(
        store=None,  # type: ignore[arg-type]
        access=Access(["memory:U_ROOT"]),
        clock=clock,
        knowledge=_Knowledge(),  # type: ignore[arg-type]
    )
    for who in (ADA, Author(id="U_ROOT")):
        command = Command(
            event_id=who.id,
            ref=channel(),
            author=who,
            text="kb status",
            origin=Origin(kind=OriginKind.COMMAND),
        )
        await commands.handle(
            command, Invocation(name="kb", args=("status",)), Delivery(adapter, clock=clock)
        )
    assert adapter.private_texts() == [
        "Only admins can see `kb status`.",
        "12 documents from /srv/parley/docs",
    ]
