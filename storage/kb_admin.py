"""Knowledge administration state shared by every process: the reindex lease and the sources.

`SqlReindexLease` (`bot.ports.ReindexLease`, table `kb_lease`, revision 0007) keeps one row per
lease name. A run takes it with one conditional UPDATE: the row is free (no `run_id`) or its
holder stopped renewing (`expires_at` passed). On PostgreSQL a second UPDATE racing the first
waits for the row lock and then re-checks the condition against the new row, on SQLite writers
queue on the database lock; either way exactly one run sees `rowcount == 1`. The holder renews
the lease (and publishes its progress) with every heartbeat, reads back whether someone asked it
to cancel, and on release clears the holder and records how the run ended, which is what
`kb status` shows as the last reindex, scheduled or not. A holder killed mid-run stops renewing;
after `LEASE_S` the next request takes over, and its reindex resumes from the index's own
checkpoints.

`SqlSourceRegistry` (`bot.ports.SourceRegistry`, table `kb_sources`) remembers sources added
with `kb add` and when each source, configured ones included, was last indexed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, Text, delete, or_, select, update
from sqlalchemy.engine import Row
from sqlmodel import Field, SQLModel

from bot.ports import KnowledgeSource, LastReindex, LeaseHolder
from storage.db import Database
from storage.models import UTCDateTime, utcnow

LEASE_S = 60.0
"""A holder that has not renewed for this long is gone (its heartbeat runs every few seconds)."""
REINDEX = "reindex"


class KbLeaseRow(SQLModel, table=True):
    __tablename__ = "kb_lease"

    name: str = Field(primary_key=True)
    run_id: str | None = None
    actor: str = ""
    target: str = Field(default="", sa_type=Text)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    progress: str = Field(default="{}", sa_type=Text)
    cancel_by: str = ""
    last_actor: str = ""
    last_target: str = Field(default="", sa_type=Text)
    last_finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_outcome: str = ""
    last_headline: str = Field(default="", sa_type=Text)


class KbSourceRow(SQLModel, table=True):
    __tablename__ = "kb_sources"

    path: str = Field(primary_key=True)
    source: str = Field(sa_type=Text)
    kind: str
    added_by: str = ""
    added_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_indexed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_outcome: str = ""


kb_lease: Table = KbLeaseRow.__table__  # type: ignore[attr-defined]
kb_sources: Table = KbSourceRow.__table__  # type: ignore[attr-defined]
_EMPTY = {
    "actor": "",
    "target": "",
    "progress": "{}",
    "cancel_by": "",
    "last_actor": "",
    "last_target": "",
    "last_outcome": "",
    "last_headline": "",
}


def _holder(row: Row[Any]) -> LeaseHolder:
    return LeaseHolder(
        run_id=row.run_id,
        actor=row.actor,
        target=row.target,
        started_at=row.started_at,
        progress={str(k): float(v) for k, v in json.loads(row.progress or "{}").items()},
        cancel_requested=row.cancel_by,
    )


class SqlReindexLease:
    def __init__(self, db: Database, *, name: str = REINDEX, lease_s: float = LEASE_S) -> None:
        self._db = db
        self._name = name
        self._lease = timedelta(seconds=lease_s)

    def _live(self, now: datetime) -> Any:
        return (kb_lease.c.run_id.is_not(None)) & (kb_lease.c.expires_at >= now)

    async def acquire(self, run_id: str, *, actor: str, target: str) -> LeaseHolder | None:
        now = utcnow()
        t = kb_lease.c
        async with self._db.write() as conn:
            await conn.execute(
                self._db.insert(kb_lease)
                .values(name=self._name, **_EMPTY)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = await conn.execute(
                update(kb_lease)
                .where(t.name == self._name, or_(t.run_id.is_(None), t.expires_at < now))
                .values(
                    run_id=run_id,
                    actor=actor,
                    target=target,
                    started_at=now,
                    expires_at=now + self._lease,
                    progress="{}",
                    cancel_by="",
                )
            )
            if taken.rowcount == 1:
                return None
            row = (await conn.execute(select(kb_lease).where(t.name == self._name))).one()
        return _holder(row)

    async def heartbeat(self, run_id: str, progress: dict[str, float]) -> str | None:
        now = utcnow()
        t = kb_lease.c
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    update(kb_lease)
                    .where(t.name == self._name, t.run_id == run_id)
                    .values(expires_at=now + self._lease, progress=json.dumps(progress))
                    .returning(t.cancel_by)
                )
            ).first()
        return None if row is None else str(row.cancel_by)

    async def release(self, run_id: str, last: LastReindex) -> None:
        t = kb_lease.c
        async with self._db.write() as conn:
            await conn.execute(
                update(kb_lease)
                .where(t.name == self._name, t.run_id == run_id)
                .values(
                    run_id=None,
                    expires_at=None,
                    cancel_by="",
                    last_actor=last.actor,
                    last_target=last.target,
                    last_finished_at=last.finished_at,
                    last_outcome=last.outcome,
                    last_headline=last.headline,
                )
            )

    async def request_cancel(self, by: str) -> LeaseHolder | None:
        now = utcnow()
        t = kb_lease.c
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    update(kb_lease)
                    .where(t.name == self._name, self._live(now))
                    .values(cancel_by=by)
                    .returning(*kb_lease.c)
                )
            ).first()
        return None if row is None else _holder(row)

    async def _row(self) -> Row[Any] | None:
        async with self._db.engine.connect() as conn:
            query = select(kb_lease).where(kb_lease.c.name == self._name)
            return (await conn.execute(query)).first()

    async def holder(self) -> LeaseHolder | None:
        row = await self._row()
        if row is None or row.run_id is None or row.expires_at < utcnow():
            return None
        return _holder(row)

    async def last(self) -> LastReindex | None:
        row = await self._row()
        if row is None or row.last_finished_at is None:
            return None
        return LastReindex(
            actor=row.last_actor,
            target=row.last_target,
            finished_at=row.last_finished_at,
            outcome=row.last_outcome,
            headline=row.last_headline,
        )


class SqlSourceRegistry:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def sources(self) -> list[KnowledgeSource]:
        query = select(kb_sources).order_by(kb_sources.c.path)
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            KnowledgeSource(
                path=row.path,
                source=row.source,
                kind=row.kind,
                added_by=row.added_by,
                added_at=row.added_at,
                last_indexed_at=row.last_indexed_at,
                last_outcome=row.last_outcome,
            )
            for row in rows
        ]

    async def add(self, source: KnowledgeSource) -> bool:
        stmt = (
            self._db.insert(kb_sources)
            .values(
                path=source.path,
                source=source.source,
                kind=source.kind,
                added_by=source.added_by,
                added_at=source.added_at or utcnow(),
                last_outcome="",
            )
            .on_conflict_do_nothing(index_elements=["path"])
            .returning(kb_sources.c.path)
        )
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).first() is not None

    async def remove(self, path: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(kb_sources).where(kb_sources.c.path == path))

    async def mark_indexed(self, paths: Sequence[str], *, outcome: str) -> None:
        now = utcnow()
        async with self._db.write() as conn:
            for path in paths:
                stmt = self._db.insert(kb_sources).values(
                    path=path,
                    source=path,
                    kind="configured",
                    added_by="",
                    last_indexed_at=now,
                    last_outcome=outcome,
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["path"],
                        set_={"last_indexed_at": now, "last_outcome": outcome},
                    )
                )
