"""`SqlJobRuns`: one row per run of a scheduled job (table `job_runs`), the claim that makes a
run happen once when several processes share the job store (`bot.scheduling`).

Every scheduler process wakes for a due job; each first INSERTs `(job_id, run_at)` with
`ON CONFLICT DO NOTHING`, and only the process whose row went in runs it: the primary key, not a
read-then-write, picks the winner (as `processed_events` does for platform events). The row then
records how the run ended, which `python -m bot jobs` shows as the job's last run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, Text, delete, func, select, update
from sqlmodel import Field, SQLModel

from storage.db import Database
from storage.models import UTCDateTime, utcnow


class JobRunRow(SQLModel, table=True):
    __tablename__ = "job_runs"

    job_id: str = Field(primary_key=True)
    run_at: datetime = Field(primary_key=True, sa_type=UTCDateTime)
    """The run's scheduled time (the same in every process, so it is the claim's key)."""
    worker: str
    """The process that claimed the run."""
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="running", sa_type=Text)
    """"running", "ok", "missed", or "failed: <reason>"."""


job_runs: Table = JobRunRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRun:
    job_id: str
    run_at: datetime
    worker: str
    claimed_at: datetime
    finished_at: datetime | None
    outcome: str


class SqlJobRuns:
    """The `bot.scheduling.RunClaims` on SQLite or PostgreSQL."""

    def __init__(self, db: Database, worker: str) -> None:
        self._db = db
        self._worker = worker

    async def claim(self, job_id: str, run_at: datetime) -> bool:
        row = {"job_id": job_id, "run_at": run_at, "worker": self._worker, "claimed_at": utcnow()}
        stmt = self._db.insert(job_runs).values(**row).on_conflict_do_nothing()
        async with self._db.write() as conn:
            result = await conn.execute(stmt.execution_options(preserve_rowcount=True))
            return result.rowcount == 1

    async def finish(self, job_id: str, run_at: datetime, outcome: str) -> None:
        r = job_runs.c
        stmt = (
            update(job_runs)
            .where(r.job_id == job_id, r.run_at == run_at)
            .values(outcome=outcome[:2000], finished_at=utcnow())
        )
        async with self._db.write() as conn:
            await conn.execute(stmt)

    async def last_runs(self) -> dict[str, JobRun]:
        """The newest run of each job."""
        r = job_runs.c
        newest = select(r.job_id, func.max(r.run_at).label("run_at")).group_by(r.job_id).subquery()
        stmt = select(job_runs).join(
            newest, (r.job_id == newest.c.job_id) & (r.run_at == newest.c.run_at)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {
            row.job_id: JobRun(
                job_id=row.job_id,
                run_at=row.run_at,
                worker=row.worker,
                claimed_at=row.claimed_at,
                finished_at=row.finished_at,
                outcome=row.outcome,
            )
            for row in rows
        }

    async def prune(self, *, before: datetime) -> int:
        """Forget runs claimed before `before` (a run is only ever claimed near its time)."""
        stmt = delete(job_runs).where(job_runs.c.claimed_at < before)
        async with self._db.write() as conn:
            return (await conn.execute(stmt)).rowcount
