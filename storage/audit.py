"""`SqlAuditLog`: the `bot.ports.AuditLog` on SQLite or PostgreSQL (table `admin_audit`,
revision 0005). Append-only; writes go through `storage.db.Database.write`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, Text, insert, select
from sqlmodel import Field, SQLModel

from bot.ports import AdminAction
from storage.db import Database
from storage.models import RowId, UTCDateTime, utcnow


class AdminAuditRow(SQLModel, table=True):
    __tablename__ = "admin_audit"

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    platform: str
    workspace_id: str
    channel_id: str
    actor_id: str = Field(index=True)
    action: str
    target: str = Field(default="", sa_type=Text)
    result: str = Field(default="", sa_type=Text)


admin_audit: Table = AdminAuditRow.__table__  # type: ignore[attr-defined]


class SqlAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, action: AdminAction) -> None:
        values = {
            "at": utcnow(),
            "platform": action.platform,
            "workspace_id": action.workspace_id,
            "channel_id": action.channel_id,
            "actor_id": action.actor_id,
            "action": action.action,
            "target": action.target,
            "result": action.result,
        }
        async with self._db.write() as conn:
            await conn.execute(insert(admin_audit).values(**values))

    async def entries(self, *, limit: int = 100) -> list[AdminAction]:
        query = select(admin_audit).order_by(admin_audit.c.id.desc()).limit(limit)
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AdminAction(
                platform=row.platform,
                workspace_id=row.workspace_id,
                channel_id=row.channel_id,
                actor_id=row.actor_id,
                action=row.action,
                target=row.target,
                result=row.result,
                at=row.at,
            )
            for row in rows
        ]
