"""`SqlApprovalStore`: the `bot.tools.approvals.ApprovalStore` on SQLite or PostgreSQL.

Three tables (revision 0002): `paused_turns` (what a paused turn needs to resume), `tool_approvals`
(one row per approval request, kept as the record of who decided what) and `approval_audit`
(append-only events). Both state changes that must happen once are single conditional UPDATEs —
`decide` (`WHERE id = ? AND status = 'pending'` and the expiry condition) and `claim_resume`
(`WHERE turn_id = ? AND status = 'paused'`) — so the database, not a read-then-write, picks the one
winner among double clicks, replays and workers. Writes go through `storage.db.Database.write`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Table, Text, select, update
from sqlalchemy.engine import Row
from sqlmodel import Field, SQLModel

from bot.refs import Author
from bot.tools.approvals import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    PausedTurn,
    TurnStatus,
)
from bot.tools.codec import decode_messages, encode_messages
from storage.db import Database
from storage.models import RowId, UTCDateTime, ref_columns, ref_of


class PausedTurnRow(SQLModel, table=True):
    __tablename__ = "paused_turns"

    turn_id: str = Field(primary_key=True)
    platform: str
    workspace_id: str
    channel_id: str
    thread_id: str | None = None
    kind: str = Field(default="channel", sa_column_kwargs={"server_default": "channel"})
    route: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    author_id: str
    author_name: str = ""
    step: int
    messages: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    """`bot.tools.codec` encoding, ending with the assistant message holding the calls."""
    done: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    """Tool messages already known for the paused step."""
    status: str = Field(default="paused", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApprovalRow(SQLModel, table=True):
    __tablename__ = "tool_approvals"

    id: str = Field(primary_key=True, max_length=32)
    tool_call_id: str
    turn_id: str = Field(
        index=True, sa_column_args=[ForeignKey("paused_turns.turn_id", ondelete="CASCADE")]
    )
    tool: str
    args_preview: str = Field(sa_type=Text)
    args_hash: str
    reason: str = Field(default="", sa_type=Text)
    requested_by: str
    requester_name: str = ""
    platform: str
    workspace_id: str
    channel_id: str
    thread_id: str | None = None
    kind: str = Field(default="channel", sa_column_kwargs={"server_default": "channel"})
    route: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="pending", index=True)
    decided_by: str | None = None
    decided_by_name: str = ""
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    result: str | None = Field(default=None, sa_type=Text)
    output: str | None = Field(default=None, sa_type=Text)
    card_message_id: str | None = None


class ApprovalAuditRow(SQLModel, table=True):
    __tablename__ = "approval_audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    approval_id: str = Field(index=True)
    event: str
    tool: str
    requested_by: str
    args_hash: str
    actor: str
    detail: str = Field(default="", sa_type=Text)
    at: datetime = Field(sa_type=UTCDateTime)


paused_turns: Table = PausedTurnRow.__table__  # type: ignore[attr-defined]
tool_approvals: Table = ApprovalRow.__table__  # type: ignore[attr-defined]
approval_audit: Table = ApprovalAuditRow.__table__  # type: ignore[attr-defined]

# Dataclass fields stored as they are, each in the column of the same name.
_APPROVAL_FIELDS = tuple(f.name for f in fields(ApprovalRequest) if f.name not in ("ref", "status"))
_AUDIT_FIELDS = tuple(f.name for f in fields(AuditEntry))


class SqlApprovalStore:
    def __init__(self, db: Database) -> None:
        """Pass the app's `Database` (`SqlStore.db`): its writes share the write lock."""
        self._engine = db.engine
        self._write = db.write

    async def save_paused(self, turn: PausedTurn, approvals: Sequence[ApprovalRequest]) -> None:
        row = {
            "turn_id": turn.turn_id,
            **ref_columns(turn.ref),
            "author_id": turn.author.id,
            "author_name": turn.author.display_name,
            "step": turn.step,
            "messages": encode_messages(turn.messages),
            "done": encode_messages(turn.done),
            "status": turn.status.value,
            "created_at": turn.created_at,
        }
        async with self._write() as conn:
            await conn.execute(paused_turns.insert(), row)
            if approvals:
                await conn.execute(
                    tool_approvals.insert(), [_approval_values(a) for a in approvals]
                )

    async def set_card(self, approval_id: str, message_id: str) -> None:
        stmt = update(tool_approvals).where(tool_approvals.c.id == approval_id)
        async with self._write() as conn:
            await conn.execute(stmt.values(card_message_id=message_id))

    async def get(self, approval_id: str) -> ApprovalRequest | None:
        stmt = select(tool_approvals).where(tool_approvals.c.id == approval_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _approval(row) if row is not None else None

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        decided_by: str,
        decided_by_name: str = "",
        at: datetime,
    ) -> bool:
        a = tool_approvals.c
        in_time = a.expires_at <= at if status is ApprovalStatus.EXPIRED else a.expires_at > at
        stmt = (
            update(tool_approvals)
            .where(a.id == approval_id, a.status == ApprovalStatus.PENDING.value, in_time)
            .values(
                status=status.value,
                decided_by=decided_by,
                decided_by_name=decided_by_name,
                decided_at=at,
            )
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def finish(self, approval_id: str, *, result: str, output: str) -> None:
        stmt = update(tool_approvals).where(tool_approvals.c.id == approval_id)
        async with self._write() as conn:
            await conn.execute(stmt.values(result=result, output=output))

    async def paused_turn(self, turn_id: str) -> PausedTurn | None:
        stmt = select(paused_turns).where(paused_turns.c.turn_id == turn_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return PausedTurn(
            turn_id=row.turn_id,
            ref=ref_of(row),
            author=Author(id=row.author_id, display_name=row.author_name),
            step=row.step,
            messages=decode_messages(row.messages),
            done=decode_messages(row.done),
            created_at=row.created_at,
            status=TurnStatus(row.status),
        )

    async def turn_approvals(self, turn_id: str) -> list[ApprovalRequest]:
        a = tool_approvals.c
        stmt = select(tool_approvals).where(a.turn_id == turn_id).order_by(a.created_at, a.id)
        async with self._engine.connect() as conn:
            return [_approval(row) for row in await conn.execute(stmt)]

    async def claim_resume(self, turn_id: str) -> bool:
        t = paused_turns.c
        stmt = (
            update(paused_turns)
            .where(t.turn_id == turn_id, t.status == TurnStatus.PAUSED.value)
            .values(status=TurnStatus.RESUMED.value)
        )
        async with self._write() as conn:
            return (await conn.execute(stmt)).rowcount == 1

    async def pending(self) -> list[ApprovalRequest]:
        a = tool_approvals.c
        stmt = select(tool_approvals).where(a.status == ApprovalStatus.PENDING.value)
        async with self._engine.connect() as conn:
            return [_approval(row) for row in await conn.execute(stmt.order_by(a.expires_at))]

    async def paused_turns(self) -> list[str]:
        t = paused_turns.c
        stmt = select(t.turn_id).where(t.status == TurnStatus.PAUSED.value).order_by(t.created_at)
        async with self._engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def add_audit(self, entry: AuditEntry) -> None:
        async with self._write() as conn:
            await conn.execute(approval_audit.insert(), asdict(entry))

    async def audit_log(self, approval_id: str | None = None) -> list[AuditEntry]:
        l = approval_audit.c  # noqa: E741
        stmt = select(*(l[name] for name in _AUDIT_FIELDS)).order_by(l.id)
        if approval_id is not None:
            stmt = stmt.where(l.approval_id == approval_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [AuditEntry(**row) for row in rows]


def _approval_values(a: ApprovalRequest) -> dict[str, Any]:
    values = {name: getattr(a, name) for name in _APPROVAL_FIELDS}
    return values | ref_columns(a.ref) | {"status": a.status.value}


def _approval(row: Row[Any]) -> ApprovalRequest:
    values = {name: row._mapping[name] for name in _APPROVAL_FIELDS}
    return ApprovalRequest(**values, ref=ref_of(row), status=ApprovalStatus(row.status))
