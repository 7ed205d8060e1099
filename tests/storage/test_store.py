"""Every `ConversationStore` method of `SqlStore`, on each backend."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.messages import Citation
from bot.ports import ConversationStore, MessageStatus, Summary
from bot.refs import Author, ConversationRef
from storage import SqlStore
from storage.models import conversations, messages, usage_records

ADA = Author(id="U1", display_name="Ada")


async def _row(store: SqlStore, table, key_column, key):
    async with store.engine.connect() as conn:
        return (await conn.execute(select(table).where(key_column == key))).one()


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize(
    "name", sorted(n for n in vars(ConversationStore) if not n.startswith("_"))
)
def test_implements_every_port_method_with_its_signature(name: str) -> None:
    """The core calls the port with keywords, so parameter names and defaults count; mypy
    compares positional parameters by type only."""
    port_method = getattr(ConversationStore, name)
    method = getattr(SqlStore, name, None)
    assert method is not None, f"SqlStore lacks {name}"
    assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(port_method)
    assert _parameters(method) == _parameters(port_method)


async def test_claim_event_once(store: SqlStore) -> None:
    assert await store.claim_event("Ev1") is True
    assert await store.claim_event("Ev1") is False
    assert await store.claim_event("Ev2") is True


async def test_prune_events_forgets_old_ids(store: SqlStore) -> None:
    assert await store.claim_event("old")
    assert await store.prune_events(before=datetime.now(UTC) - timedelta(hours=1)) == 0
    assert await store.prune_events(before=datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert await store.claim_event("old") is True


async def test_ensure_conversation(store: SqlStore, ref: ConversationRef) -> None:
    assert await store.ensure_conversation(ref) is True
    assert await store.ensure_conversation(ref) is False
    row = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert (row.platform, row.workspace_id, row.channel_id, row.thread_id) == (
        "slack",
        "T1",
        "C1",
        "17.5",
    )
    assert (row.input_tokens, row.output_tokens, row.summary) == (0, 0, None)
    assert row.created_at.tzinfo is not None


async def test_add_message_creates_conversation_and_keeps_order(
    store: SqlStore, ref: ConversationRef
) -> None:
    first = await store.add_message(ref, role="user", text="My name is Ada.", author=ADA)
    second = await store.add_message(
        ref, role="assistant", text="Hello Ada.", platform_message_id="171.2"
    )
    assert second > first
    history = await store.history(ref.memory_key)
    assert [(m.id, m.role, m.text) for m in history] == [
        (first, "user", "My name is Ada."),
        (second, "assistant", "Hello Ada."),
    ]
    assert (history[0].author_id, history[0].author_name) == ("U1", "Ada")
    assert history[0].status is MessageStatus.FINAL
    assert history[0].created_at is not None and history[0].created_at.tzinfo is not None
    row = await _row(store, messages, messages.c.id, second)
    assert row.platform_message_id == "171.2"


async def test_add_question_stores_the_question_and_a_streaming_reply_together(
    store: SqlStore, ref: ConversationRef
) -> None:
    """One write before the model is called: the question (in history at once) and the reply's
    row, `streaming` and owned by this worker, so a crash leaves a row that recovery finalizes."""
    earlier = await store.add_message(ref, role="assistant", text="Earlier answer.")
    asked, reply = await store.add_question(ref, text="What is our leave policy?", author=ADA)
    assert earlier < asked < reply
    history = await store.history(ref.memory_key)
    assert [(m.role, m.text, m.author_name) for m in history] == [
        ("assistant", "Earlier answer.", ""),
        ("user", "What is our leave policy?", "Ada"),
        ("assistant", "", ""),
    ]
    row = await _row(store, messages, messages.c.id, reply)
    assert (row.status, row.owner, row.text) == ("streaming", store.worker_id, "")
    question = await _row(store, messages, messages.c.id, asked)
    assert (question.status, question.owner) == ("final", None)
    assert await store.ensure_conversation(ref) is False  # the conversation row was created


async def test_update_message_streams_then_finalizes(store: SqlStore, ref: ConversationRef) -> None:
    reply = await store.add_message(ref, role="assistant", text="", status=MessageStatus.PENDING)
    await store.update_message(
        reply, text="Hel", status=MessageStatus.STREAMING, platform_message_id="9"
    )
    await store.update_message(
        reply,
        text="Hello [1]",
        status=MessageStatus.FINAL,
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=12,
        output_tokens=3,
        latency_ms=250,
        citations=[Citation(number=1, title="Guide", source="docs/guide.md", section="Setup")],
    )
    row = await _row(store, messages, messages.c.id, reply)
    assert (row.text, row.status, row.platform_message_id) == ("Hello [1]", "final", "9")
    assert (row.provider, row.model, row.input_tokens, row.output_tokens, row.latency_ms) == (
        "openai",
        "gpt-4o-mini",
        12,
        3,
        250,
    )
    assert row.citations == [
        {"number": 1, "title": "Guide", "source": "docs/guide.md", "section": "Setup"}
    ]
    assert row.error is None
    assert row.updated_at >= row.created_at


async def test_update_message_failure_and_edge_cases(store: SqlStore, ref: ConversationRef) -> None:
    reply = await store.add_message(ref, role="assistant", text="", status=MessageStatus.STREAMING)
    await store.update_message(reply)  # nothing given: nothing changes
    await store.update_message(reply, status=MessageStatus.FAILED, error="LLM timed out")
    row = await _row(store, messages, messages.c.id, reply)
    assert (row.status, row.error, row.text) == ("failed", "LLM timed out", "")
    await store.update_message(reply, citations=[])
    assert (await _row(store, messages, messages.c.id, reply)).citations == []
    await store.update_message(10_000, text="gone")  # unknown id: ignored


async def test_history_excludes_pending_and_failed(store: SqlStore, ref: ConversationRef) -> None:
    kept = [await store.add_message(ref, role="user", text="q1")]
    await store.add_message(ref, role="assistant", text="", status=MessageStatus.PENDING)
    await store.add_message(ref, role="assistant", text="oops", status=MessageStatus.FAILED)
    kept.append(
        await store.add_message(ref, role="assistant", text="a", status=MessageStatus.STREAMING)
    )
    kept.append(await store.add_message(ref, role="user", text="q2"))
    assert [m.id for m in await store.history(ref.memory_key)] == kept


async def test_history_after_id_limit_and_isolation(store: SqlStore, ref: ConversationRef) -> None:
    other = ref.in_thread("99.1")
    ids = [await store.add_message(ref, role="user", text=f"m{i}") for i in range(6)]
    await store.add_message(other, role="user", text="elsewhere")
    assert [m.id for m in await store.history(ref.memory_key, after_id=ids[2])] == ids[3:]
    # The newest `limit` messages, still oldest first.
    assert [m.text for m in await store.history(ref.memory_key, limit=2)] == ["m4", "m5"]
    assert await store.history(ref.memory_key, limit=0) == []
    assert [m.text for m in await store.history(other.memory_key)] == ["elsewhere"]
    assert await store.history("slack:T1:nope:") == []


async def test_summary_roundtrip(store: SqlStore, ref: ConversationRef) -> None:
    assert await store.summary(ref.memory_key) is None
    first = await store.add_message(ref, role="user", text="old")
    await store.save_summary(
        ref.memory_key, Summary(text="Ada introduced herself.", through_message_id=first)
    )
    assert await store.summary(ref.memory_key) == Summary(
        text="Ada introduced herself.", through_message_id=first
    )
    await store.save_summary(ref.memory_key, Summary(text="newer", through_message_id=first + 1))
    assert await store.summary(ref.memory_key) == Summary(
        text="newer", through_message_id=first + 1
    )


async def test_backlog_is_the_summary_and_the_history_after_it(
    store: SqlStore, ref: ConversationRef
) -> None:
    assert await store.backlog(ref.memory_key) == (None, [])
    old = await store.add_message(ref, role="user", text="old")
    assert [m.text for m in (await store.backlog(ref.memory_key))[1]] == ["old"]
    await store.save_summary(ref.memory_key, Summary(text="Ada said hi.", through_message_id=old))
    newer = await store.add_message(ref, role="user", text="newer")
    summary, messages = await store.backlog(ref.memory_key)
    assert summary == Summary(text="Ada said hi.", through_message_id=old)
    assert [(m.id, m.text) for m in messages] == [(newer, "newer")]
    await store.add_message(ref, role="user", text="newest")
    assert [m.text for m in (await store.backlog(ref.memory_key, limit=1))[1]] == ["newest"]


async def test_save_summary_for_unknown_conversation_is_loud(store: SqlStore) -> None:
    with pytest.raises(LookupError):
        await store.save_summary("slack:T1:none:", Summary(text="x", through_message_id=1))


async def test_reset_forgets_memory_but_keeps_usage(store: SqlStore, ref: ConversationRef) -> None:
    other = ref.in_thread("other")
    first = await store.add_message(ref, role="user", text="hi")
    await store.add_message(other, role="user", text="stays")
    await store.save_summary(ref.memory_key, Summary(text="s", through_message_id=first))
    await store.record_usage(ref, provider="openai", model="m", input_tokens=5, output_tokens=7)

    await store.reset(ref.memory_key)

    assert await store.history(ref.memory_key) == []
    assert await store.summary(ref.memory_key) is None
    assert [m.text for m in await store.history(other.memory_key)] == ["stays"]
    usage = await _row(store, usage_records, usage_records.c.memory_key, ref.memory_key)
    assert (usage.input_tokens, usage.output_tokens) == (5, 7)
    # The conversation continues after a reset.
    again = await store.add_message(ref, role="user", text="new start")
    assert [m.id for m in await store.history(ref.memory_key)] == [again]
    await store.reset("slack:T1:never-seen:")  # no conversation: nothing to do


async def test_record_usage_adds_records_and_totals(store: SqlStore, ref: ConversationRef) -> None:
    await store.record_usage(
        ref, provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=2
    )
    await store.record_usage(
        ref, provider="anthropic", model="claude", input_tokens=5, output_tokens=1
    )
    conv = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert (conv.input_tokens, conv.output_tokens) == (15, 3)
    async with store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(usage_records.c.provider, usage_records.c.model).order_by(usage_records.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [("openai", "gpt-4o-mini"), ("anthropic", "claude")]


async def test_foreign_keys_are_enforced(store: SqlStore) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(
                messages.insert().values(
                    memory_key="no:such:conversation:",
                    role="user",
                    text="x",
                    author_id="",
                    author_name="",
                    status="final",
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
            )


async def test_writes_create_or_touch_the_conversation(
    store: SqlStore, ref: ConversationRef
) -> None:
    """add_message and record_usage create the conversation row with the model's defaults in
    one upsert, and on later writes bump only its updated_at (and the token totals)."""
    first = await store.add_message(ref, role="user", text="hi")
    assert await store.ensure_conversation(ref) is False
    conv = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert (conv.platform, conv.workspace_id, conv.channel_id, conv.thread_id) == (
        "slack",
        "T1",
        "C1",
        "17.5",
    )
    assert (conv.input_tokens, conv.output_tokens, conv.summary) == (0, 0, None)
    assert conv.summary_through_message_id is None
    assert conv.created_at.tzinfo is not None and conv.updated_at == conv.created_at
    msg = await _row(store, messages, messages.c.id, first)
    assert msg.created_at == msg.updated_at and msg.created_at.tzinfo is not None
    assert msg.created_at >= conv.created_at
    assert (msg.author_id, msg.author_name, msg.status, msg.platform_message_id) == (
        "",
        "",
        "final",
        None,
    )
    assert (msg.provider, msg.model, msg.input_tokens, msg.output_tokens) == (None,) * 4
    assert (msg.latency_ms, msg.citations, msg.error) == (None, None, None)
    async with store.engine.connect() as conn:
        sql_null = messages.c.citations.is_(None)  # SQL NULL, not JSON 'null'
        assert (await conn.execute(select(sql_null).where(messages.c.id == first))).scalar_one()

    await store.add_message(other := ref.in_thread("elsewhere"), role="user", text="x")
    await store.add_message(ref, role="assistant", text="hello")
    touched = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert touched.created_at == conv.created_at and touched.updated_at > conv.updated_at
    assert (touched.platform, touched.thread_id, touched.input_tokens) == ("slack", "17.5", 0)

    await store.record_usage(ref, provider="p", model="m", input_tokens=3, output_tokens=4)
    counted = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert counted.updated_at > touched.updated_at and counted.created_at == conv.created_at
    assert (counted.input_tokens, counted.output_tokens) == (3, 4)
    untouched = await _row(store, conversations, conversations.c.memory_key, other.memory_key)
    assert (untouched.input_tokens, untouched.output_tokens) == (0, 0)
    usage = await _row(store, usage_records, usage_records.c.memory_key, ref.memory_key)
    assert usage.created_at == counted.updated_at


async def test_record_usage_creates_the_conversation(store: SqlStore, ref: ConversationRef) -> None:
    await store.record_usage(ref, provider="p", model="m", input_tokens=7, output_tokens=9)
    conv = await _row(store, conversations, conversations.c.memory_key, ref.memory_key)
    assert (conv.platform, conv.channel_id, conv.thread_id, conv.summary) == (
        "slack",
        "C1",
        "17.5",
        None,
    )
    assert (conv.input_tokens, conv.output_tokens) == (7, 9)
    assert conv.created_at == conv.updated_at
    assert await store.ensure_conversation(ref) is False
    assert await store.history(ref.memory_key) == []
