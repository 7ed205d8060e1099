"""The database tables (SQLModel). Schema changes also need a revision in `migrations/versions/`;
`tests/storage/test_migrations.py` fails when these models and the migrated schema disagree.

Timestamps are timezone-aware UTC in Python on every backend (`UTCDateTime`). Row ids that grow
without bound are BIGINT on PostgreSQL and INTEGER (the rowid alias) on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from bot.refs import ConversationRef

# Explicit constraint names, so later migrations (and SQLite batch mode) can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RowId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def ref_columns(ref: ConversationRef) -> dict[str, str | None]:
    """The columns in which a row keeps its `ConversationRef` (its route included, so an
    adapter can post there after a restart)."""
    return ref.to_dict()


def ref_of(row: Row[Any]) -> ConversationRef:
    """The `ConversationRef` kept in a row's `ref_columns`."""
    return ConversationRef.from_dict(dict(row._mapping))


class UTCDateTime(TypeDecorator[datetime]):
    """TIMESTAMP WITH TIME ZONE; SQLite drops the zone, so values read back are marked UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; store timezone-aware UTC values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"

    memory_key: str = Field(primary_key=True)
    """`ConversationRef.memory_key`: thread if any, else channel."""
    platform: str
    workspace_id: str
    channel_id: str
    thread_id: str | None = None
    kind: str = Field(default="channel", sa_column_kwargs={"server_default": "channel"})
    route: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    summary: str | None = Field(default=None, sa_type=Text)
    """Rolling summary of the turns older than `summary_through_message_id`."""
    summary_through_message_id: int | None = Field(default=None, sa_type=RowId)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_memory_key_id", "memory_key", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    memory_key: str = Field(
        sa_column_args=[ForeignKey("conversations.memory_key", ondelete="CASCADE")]
    )
    role: str
    """"user", "assistant" or "system"."""
    author_id: str = ""
    author_name: str = ""
    text: str = Field(default="", sa_type=Text)
    platform_message_id: str | None = None
    status: str = "final"
    """A `bot.ports.MessageStatus` value."""
    provider: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: int | None = None
    citations: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON(none_as_null=True))
    )
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    owner: str | None = None
    """The worker writing this reply while it is pending or streaming (`storage.recovery`)."""


class Worker(SQLModel, table=True):
    """One row per running bot process; its lease lasts while `heartbeat_at` is fresh."""

    __tablename__ = "workers"

    id: str = Field(primary_key=True)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProcessedEvent(SQLModel, table=True):
    """One row per platform event id ever handled: dedupe across retries, workers and restarts."""

    __tablename__ = "processed_events"

    event_id: str = Field(primary_key=True)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class UsageRecord(SQLModel, table=True):
    """One row per LLM call that reported usage; kept when a conversation is reset."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_user_id_created_at", "user_id", "created_at"),
        Index("ix_usage_records_channel_id_created_at", "channel_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    memory_key: str = Field(index=True)
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Revision 0006: who and where, and the estimated cost (bot.usage).
    platform: str = Field(default="", sa_column_kwargs={"server_default": ""})
    workspace_id: str = Field(default="", sa_column_kwargs={"server_default": ""})
    channel_id: str = Field(default="", sa_column_kwargs={"server_default": ""})
    user_id: str = Field(default="", sa_column_kwargs={"server_default": ""})
    user_name: str = Field(default="", sa_column_kwargs={"server_default": ""})
    """The display name when the call was made (matches `usage @name`)."""
    cost_usd: float | None = Field(default=None, sa_type=Float)
    """Estimated from the price table when recorded; None when the model had no price (and for
    rows older than revision 0006, which the report prices with the current table)."""


# Core tables, for the store's INSERT … ON CONFLICT and bulk UPDATE statements.
conversations: Table = Conversation.__table__  # type: ignore[attr-defined]
messages: Table = Message.__table__  # type: ignore[attr-defined]
processed_events: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]
usage_records: Table = UsageRecord.__table__  # type: ignore[attr-defined]
workers: Table = Worker.__table__  # type: ignore[attr-defined]
