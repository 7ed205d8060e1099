"""`forget-me` and `export-me` through the core's commands with the memory adapter (Slack's
shape, a 4,000-char limit) on SQLite and PostgreSQL: a long export arrives whole over several
private messages, a pending approval holds forgetting, and a click decides once."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import update

from bot.clock import FakeClock
from bot.core.access import Access
from bot.core.commands import Commands
from bot.core.grammar import parse
from bot.core.privacy import PrivacyCommands
from bot.delivery import Delivery
from bot.events import ActionClick, Command, Origin, OriginKind
from bot.refs import Author
from bot.scheduling import JobScheduler
from bot.tools.builtin.schedule import MessageScheduler
from storage import SqlStore
from storage.approvals import paused_turns, tool_approvals
from storage.privacy import SqlPrivacy
from tests.fakes.memory_adapter import MemoryAdapter
from tests.privacy.seed import ADA, BOB, CHANNEL, seed


def _command(author: Author, text: str) -> Command:
    return Command(
        event_id=f"{author.id}:{text}",
        ref=CHANNEL,
        author=author,
        text=text,
        origin=Origin(kind=OriginKind.COMMAND),
    )


async def _run(commands: Commands, adapter: MemoryAdapter, command: Command) -> None:
    invocation = parse(command.text, typed=False)
    assert invocation is not None
    await commands.handle(command, invocation, Delivery(adapter, clock=adapter.clock))


def _commands(store: SqlStore) -> tuple[Commands, PrivacyCommands, MemoryAdapter]:
    clock = FakeClock()
    privacy = PrivacyCommands(SqlPrivacy(store.db))
    commands = Commands(store=store, access=Access([]), clock=clock, privacy=privacy)
    return commands, privacy, MemoryAdapter(clock=clock)


async def test_a_long_export_arrives_whole_in_private_parts(store: SqlStore) -> None:
    await seed(store)
    for n in range(60):
        await store.add_message(CHANNEL, role="user", text=f"ada-note-{n} " + "x" * 80, author=ADA)
    commands, _, adapter = _commands(store)
    await _run(commands, adapter, _command(ADA, "export-me"))
    parts = adapter.private_texts()
    assert len(parts) > 2 and all(len(p) <= 4_000 for p in parts)
    assert all(user == ADA.id for _, user, _, _ in adapter.private)
    # Each part closes the code fence and the next reopens it: strip them and the JSON is whole.
    body = "".join(p.split("```json\n", 1)[-1].rsplit("\n```", 1)[0] for p in parts)
    document = json.loads(body.strip())
    texts = [m["text"] for m in document["tables"]["messages"]]
    assert sum(t.startswith("ada-note-") for t in texts) == 60
    assert not any(t.startswith("bob") for t in texts)


async def test_a_pending_approval_holds_forgetting(store: SqlStore) -> None:
    await seed(store)
    async with store.db.write() as conn:
        await conn.execute(
            update(paused_turns).where(paused_turns.c.turn_id == "turn-ada").values(status="paused")
        )
        await conn.execute(
            update(tool_approvals).where(tool_approvals.c.id == "a" * 16).values(status="pending")
        )
    commands, _, adapter = _commands(store)
    await _run(commands, adapter, _command(ADA, "forget-me confirm"))
    [told] = adapter.private_texts()
    assert "still pending (" + "a" * 16 + ")" in told
    assert "ada-secret-1 what is the VPN?" in [
        m.text for m in await store.history(CHANNEL.memory_key)
    ]


async def test_a_click_forgets_once_and_only_its_owner(store: SqlStore) -> None:
    await seed(store)
    commands, privacy, adapter = _commands(store)
    await _run(commands, adapter, _command(ADA, "forget-me"))
    [card] = [m for _, _, m, _ in adapter.private]
    forget, cancel = card.actions
    assert (forget.id, cancel.id) == ("forget-me", "forget-me-cancel")

    def click(author: Author) -> ActionClick:
        return ActionClick(
            event_id=f"click:{author.id}",
            ref=CHANNEL,
            author=author,
            action_id=forget.id,
            value=forget.value,
            origin=Origin(kind=OriginKind.ACTION),
        )

    refused = await privacy.on_click(click(BOB))
    assert refused.result.private is not None
    assert "send `forget-me` yourself" in refused.result.private.text_markdown
    first = await privacy.on_click(click(ADA))
    again = await privacy.on_click(click(ADA))
    assert first.result.private is not None and again.result.private is not None
    assert first.result.private.text_markdown.startswith("Done: I deleted 5 messages")
    assert again.result.private.text_markdown.startswith("Done: I deleted 0 messages")
    texts = [m.text for m in await store.history(CHANNEL.memory_key)]
    assert texts == ["bob-1 and the printer?", "bob-answer-1 second floor", "bob-2 thanks",
                     "bob-answer-2 you're welcome"]  # fmt: skip


async def test_scheduled_messages_are_exported_and_cancelled_only_for_their_requester(
    store: SqlStore, db_url: str
) -> None:
    jobs = JobScheduler(db_url)
    jobs.start(paused=True)  # nothing runs; the store is read and edited
    try:
        messages = MessageScheduler(jobs)
        at = datetime(2031, 1, 1, 9, tzinfo=UTC)
        for job_id, who, text in (("msg-a", ADA, "ada-standup"), ("msg-b", BOB, "bob-standup")):
            messages.schedule(
                job_id=job_id,
                ref=CHANNEL,
                text=text,
                when=at,
                requested_by=who.display_name,
                requester=who.qualified_id("slack"),
            )
        privacy = PrivacyCommands(SqlPrivacy(store.db), scheduler=messages)
        document = await privacy.document("slack", ADA)
        assert [(m["job_id"], m["text"]) for m in document["scheduled_messages"]] == [
            ("msg-a", "ada-standup")
        ]
        commands = Commands(store=store, access=Access([]), clock=FakeClock(), privacy=privacy)
        adapter = MemoryAdapter()
        await _run(commands, adapter, _command(ADA, "forget-me confirm"))
        assert "and 1 scheduled messages" in adapter.private_texts()[-1]
        assert [job_id for job_id, _ in messages.scheduled()] == ["msg-b"]
    finally:
        jobs.shutdown()
