"""`SqlStore`: the `bot.ports.ConversationStore` on SQLite or PostgreSQL.

Every write is a short transaction whose first statement writes (on SQLite it also begins
IMMEDIATE), so concurrent workers queue on the write lock instead of deadlocking. Event dedupe is
one `INSERT … ON CONFLICT DO NOTHING RETURNING` on the primary key, group-committed for bursts
(`storage.claims`) and sent as one trip on a connection of its own (`Database.write_now`), since
the user sees nothing until it is done: the database, not a read-then-write, decides which worker
claimed an event first. Conversation rows are created on first use, so callers never need to order
`ensure_conversation` first: a message or usage write upserts its conversation
(`ON CONFLICT DO UPDATE`, creating it or bumping `updated_at` and the token totals) in the same
statement, then INSERTs its own row.

The per-turn paths are kept to few statements, since each one costs several driver round trips
(on SQLite, hops to aiosqlite's thread): statements are built once and executed with plain
parameter dicts, so SQLAlchemy's compiled cache does the rest and no model objects are made.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messages import Citation
from bot.ports import MessageStatus, StoredMessage, Summary
from bot.refs import Author, ConversationRef
from storage.batch import GroupCommit
from storage.claims import ClaimBatcher
from storage.db import Database, create_engine
from storage.migrate import upgrade
from storage.models import (
    conversations,
    messages,
    processed_events,
    ref_columns,
    usage_records,
    utcnow,
)

_HIDDEN_FROM_HISTORY = (MessageStatus.PENDING.value, MessageStatus.FAILED.value)
_UNFINISHED = (MessageStatus.PENDING, MessageStatus.STREAMING)
_FINAL, _STREAMING = MessageStatus.FINAL, MessageStatus.STREAMING
_CLAIM = (
    "INSERT INTO processed_events (event_id, seen_at) SELECT value, :seen_at FROM {ids}"
    " WHERE true ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
"""Claim a JSON array of event ids: one statement of constant text, whatever the batch size
(`WHERE true` keeps SQLite from reading ON CONFLICT as part of the SELECT)."""
_CLAIM_IDS = {
    "sqlite": "json_each(:ids)",
    "postgresql": "json_array_elements_text(CAST(:ids AS json))",
}


class SqlStore:
    """Conversation memory, event dedupe and usage accounting over one AsyncEngine."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.worker_id = uuid.uuid4().hex[:16]
        """This process: the owner stamped on the replies it writes (`storage.recovery`)."""
        self._write = db.write
        self._insert = db.insert
        self._claims = ClaimBatcher(self._claim_many)
        dialect = db.engine.dialect
        self._claim_sql = _CLAIM.format(ids=_CLAIM_IDS[dialect.name])
        seen_at = processed_events.c.seen_at.type.dialect_impl(dialect).bind_processor(dialect)
        self._seen_at: Callable[[Any], Any] = seen_at or (lambda value: value)
        """A timestamp as the driver takes it (the claim is driver-level SQL)."""
        c, m = conversations.c, messages.c
        create = self._insert(conversations)
        self._create_conversation = create.on_conflict_do_nothing(
            index_elements=[c.memory_key]
        ).execution_options(preserve_rowcount=True)
        """INSERT the conversation if absent (True-when-created needs the rowcount)."""
        self._touch_conversation = create.on_conflict_do_update(
            index_elements=[c.memory_key], set_={c.updated_at: create.excluded.updated_at}
        )
        """Create the conversation, or else bump its `updated_at`."""
        self._count_usage = create.on_conflict_do_update(
            index_elements=[c.memory_key],
            set_={
                c.input_tokens: c.input_tokens + create.excluded.input_tokens,
                c.output_tokens: c.output_tokens + create.excluded.output_tokens,
                c.updated_at: create.excluded.updated_at,
            },
        )
        """Create the conversation with these token totals, or else add them to its totals."""
        self._insert_message = messages.insert()
        self._insert_messages = messages.insert().returning(
            messages.c.id, sort_by_parameter_order=True
        )
        """Several rows in one statement, their ids in the order given."""
        self._questions = GroupCommit(self._add_questions, self._add_one_question)
        self._insert_usage = usage_records.insert()
        self._update_message = update(messages).where(m.id == bindparam("message_id"))
        """The SET clause comes from the other parameter names (compiled once per set)."""
        self._select_history = (
            select(m.id, m.role, m.text, m.author_id, m.author_name, m.status, m.created_at)
            .where(
                m.memory_key == bindparam("memory_key"),
                m.id > bindparam("after_id"),
                m.status.not_in(_HIDDEN_FROM_HISTORY),
            )
            .order_by(m.id.desc())
            .limit(bindparam("limit"))
        )
        self._select_summary = select(c.summary, c.summary_through_message_id).where(
            c.memory_key == bindparam("memory_key")
        )

    @property
    def db(self) -> Database:
        """The engine and its write path, for other stores sharing this database."""
        return self._db

    @property
    def engine(self) -> AsyncEngine:
        return self._db.engine

    async def close(self) -> None:
        """Close every connection. The store is unusable afterwards."""
        await self._db.close()

    # --- dedupe --------------------------------------------------------------------------
    async def claim_event(self, event_id: str) -> bool:
        return await self._claims.claim(event_id)

    async def _claim_many(self, event_ids: Sequence[str]) -> set[str]:
        params = {"seen_at": self._seen_at(utcnow()), "ids": json.dumps(list(event_ids))}
        return {row[0] for row in await self._db.write_now(self._claim_sql, params)}

    async def prune_events(self, *, before: datetime) -> int:
        """Forget event ids first seen before `before` (platforms stop retrying within minutes)."""
        stmt = delete(processed_events).where(processed_events.c.seen_at < before)
        async with self._write() as conn:
            result = await conn.execute(stmt)
            return result.rowcount

    async def close_unfinished(self, *, stale_before: datetime) -> int:
        """Mark replies still `pending`/`streaming` but untouched since `stale_before` as failed:
        their process died mid-answer (a live reply saves its text every few seconds, so other
        workers' answers in progress are never touched)."""
        m = messages.c
        stmt = (
            update(messages)
            .where(
                m.status.in_((MessageStatus.PENDING.value, MessageStatus.STREAMING.value)),
                m.updated_at < stale_before,
            )
            .values(
                status=MessageStatus.FAILED.value, error="interrupted: the bot stopped mid-answer"
            )
        )
        async with self._write() as conn:
            result = await conn.execute(stmt)
            return result.rowcount

    # --- conversations and messages ------------------------------------------------------
    async def ensure_conversation(self, ref: ConversationRef) -> bool:
        row = _conversation_row(ref, utcnow())
        async with self._write() as conn:
            return (await conn.execute(self._create_conversation, row)).rowcount == 1

    async def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        author: Author | None = None,
        status: MessageStatus = MessageStatus.FINAL,
        platform_message_id: str | None = None,
    ) -> int:
        now = utcnow()
        row = self._message_row(ref, now, role, text, author, status, platform_message_id)
        async with self._write() as conn:
            await conn.execute(self._touch_conversation, _conversation_row(ref, now))
            result = await conn.execute(self._insert_message, row)
        return _inserted_id(result)

    async def add_question(
        self, ref: ConversationRef, *, text: str, author: Author
    ) -> tuple[int, int]:
        """The user's question and its reply's `streaming` row, written together, and
        group-committed with the other questions of the moment (`storage.batch`): one write
        before the model is called; returns (question id, reply id)."""
        return await self._questions.write(_Question(ref, text, author, utcnow()))

    async def _add_questions(self, questions: Sequence[_Question]) -> list[tuple[int, int]]:
        rows = []
        for q in questions:
            rows.append(self._message_row(q.ref, q.at, "user", q.text, q.author, _FINAL, None))
            rows.append(self._message_row(q.ref, q.at, "assistant", "", None, _STREAMING, None))
        touched = {q.ref.memory_key: _conversation_row(q.ref, q.at) for q in questions}
        async with self._write() as conn:
            await conn.execute(self._touch_conversation, list(touched.values()))
            result = await conn.execute(self._insert_messages, rows)
            ids = list(result.scalars())
        return list(zip(ids[::2], ids[1::2], strict=True))

    async def _add_one_question(self, question: _Question) -> tuple[int, int]:
        (ids,) = await self._add_questions([question])
        return ids

    def _message_row(
        self,
        ref: ConversationRef,
        now: datetime,
        role: str,
        text: str,
        author: Author | None,
        status: MessageStatus,
        platform_message_id: str | None,
    ) -> dict[str, Any]:
        return {
            "memory_key": ref.memory_key,
            "role": role,
            "text": text,
            "author_id": author.id if author else "",
            "author_name": author.display_name if author else "",
            "status": MessageStatus(status).value,
            "platform_message_id": platform_message_id,
            "owner": self.worker_id if status in _UNFINISHED else None,
            "created_at": now,
            "updated_at": now,
        }

    async def update_message(
        self,
        message_id: int,
        *,
        text: str | None = None,
        status: MessageStatus | None = None,
        platform_message_id: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: int | None = None,
        citations: Sequence[Citation] | None = None,
        error: str | None = None,
    ) -> None:
        """Set the given fields; None leaves a field as it is. An unknown id (a message removed by
        `reset` while its reply was still streaming) is ignored."""
        given: dict[str, Any] = {
            "text": text,
            "status": MessageStatus(status).value if status is not None else None,
            "platform_message_id": platform_message_id,
            "provider": provider,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": latency_ms,
            "citations": [asdict(c) for c in citations] if citations is not None else None,
            "error": error,
        }
        values = {name: value for name, value in given.items() if value is not None}
        if not values:
            return
        values["updated_at"] = utcnow()
        values["message_id"] = message_id
        async with self._write() as conn:
            await conn.execute(self._update_message, values)

    async def history(
        self, memory_key: str, *, after_id: int = 0, limit: int = 200
    ) -> list[StoredMessage]:
        """Messages with id > `after_id`, excluding pending and failed ones: the newest `limit`
        of them, returned oldest first."""
        if limit <= 0:
            return []
        params = {"memory_key": memory_key, "after_id": after_id, "limit": limit}
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(self._select_history, params)).all()
        return _stored(rows)

    async def backlog(
        self, memory_key: str, *, limit: int = 200
    ) -> tuple[Summary | None, list[StoredMessage]]:
        async with self._db.engine.connect() as conn:
            result = await conn.execute(self._select_summary, {"memory_key": memory_key})
            summary = _summary(result.first())
            after = summary.through_message_id if summary else 0
            params = {"memory_key": memory_key, "after_id": after, "limit": limit}
            rows = (await conn.execute(self._select_history, params)).all()
        return summary, _stored(rows)

    # --- summary, reset, usage -----------------------------------------------------------
    async def summary(self, memory_key: str) -> Summary | None:
        async with self._db.engine.connect() as conn:
            result = await conn.execute(self._select_summary, {"memory_key": memory_key})
            return _summary(result.first())

    async def save_summary(self, memory_key: str, summary: Summary) -> None:
        """Replace the rolling summary. Raises LookupError if the conversation does not exist."""
        text, through = summary.text, summary.through_message_id
        stmt = _touch(memory_key, summary=text, summary_through_message_id=through)
        async with self._write() as conn:
            updated = (await conn.execute(stmt)).rowcount
        if updated != 1:
            raise LookupError(f"no conversation {memory_key!r} to save a summary for")

    async def reset(self, memory_key: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(messages).where(messages.c.memory_key == memory_key))
            await conn.execute(_touch(memory_key, summary=None, summary_through_message_id=None))

    async def record_usage(
        self,
        ref: ConversationRef,
        *,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        user: Author | None = None,
        cost_usd: float | None = None,
        at: datetime | None = None,
    ) -> None:
        now = utcnow()
        totals = _conversation_row(ref, now)
        totals["input_tokens"], totals["output_tokens"] = input_tokens, output_tokens
        usage = {
            "memory_key": ref.memory_key,
            "provider": provider,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "created_at": at or now,
            "platform": ref.platform,
            "workspace_id": ref.workspace_id,
            "channel_id": ref.channel_id,
            "user_id": user.id if user else "",
            "user_name": user.display_name if user else "",
            "cost_usd": cost_usd,
        }
        async with self._write() as conn:
            await conn.execute(self._count_usage, totals)
            await conn.execute(self._insert_usage, usage)


@dataclass(frozen=True, slots=True)
class _Question:
    ref: ConversationRef
    text: str
    author: Author
    at: datetime


def _stored(rows: Sequence[Any]) -> list[StoredMessage]:
    """History rows (newest first, as selected) as messages, oldest first."""
    return [
        StoredMessage(
            id=id_,
            role=role,
            text=text,
            author_id=author_id,
            author_name=author_name,
            status=MessageStatus(status),
            created_at=created_at,
        )
        for id_, role, text, author_id, author_name, status, created_at in reversed(rows)
    ]


def _summary(row: Any) -> Summary | None:
    if row is None:
        return None
    text, through = row
    if text is None or through is None:
        return None
    return Summary(text=text, through_message_id=through)


def _inserted_id(result: Any) -> int:
    (message_id,) = result.inserted_primary_key or (None,)
    assert isinstance(message_id, int)
    return message_id


def _conversation_row(ref: ConversationRef, now: datetime) -> dict[str, Any]:
    """The INSERT values of a new conversation row (the model's defaults, spelled out)."""
    return {
        "memory_key": ref.memory_key,
        **ref_columns(ref),
        "input_tokens": 0,
        "output_tokens": 0,
        "created_at": now,
        "updated_at": now,
    }


def _touch(memory_key: str, **values: Any) -> Update:
    """UPDATE the conversation row: `values` and a fresh `updated_at`."""
    where = conversations.c.memory_key == memory_key
    return update(conversations).where(where).values(**values, updated_at=utcnow())


async def open_store(url: str) -> SqlStore:
    """Create the engine for `url`, upgrade the schema to the newest revision and return the
    store. Call `await store.close()` at shutdown."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(Database(engine))
