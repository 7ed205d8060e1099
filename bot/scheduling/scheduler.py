"""`JobScheduler`: the bot's one APScheduler 3 scheduler, shared by every process on a database.

How it works:
- Jobs live in APScheduler's SQLAlchemy job store, table `apscheduler_jobs`, so they survive
  restarts and every process sees the same jobs: in the bot's own PostgreSQL database, or on
  SQLite in a file of its own beside the bot's (`parley.db` → `parley.jobs.db`). APScheduler 3's
  store is synchronous and runs on the event loop; SQLite has one writer per file, and an async
  transaction of the bot that holds it needs that same loop to commit, so a job-store write
  waiting for it would wait for itself (until SQLite's timeout: "database is locked"). On its own
  file, the store only ever waits for other processes. A job missed while every process was down runs at start-up if it is less
  than its misfire grace late.
- Each process runs its own scheduler over that store. A process wakes when its next known job
  is due, and also every `poll_s` seconds, so it sees jobs another process added (APScheduler 3
  only wakes itself for jobs added through it).
- Several processes therefore wake for the same run: `ClaimingExecutor` claims each run in the
  database first (`RunClaims`, table `job_runs`) and only the winner runs it; the claim records
  the outcome, which `python -m bot jobs` shows.
- A recurring job the bot defines (`ensure_daily`) is added only when absent or when its trigger
  changed: re-adding it at every start would move its next run and lose a run missed while down.

Why APScheduler 3 rather than a hand-written loop: triggers (cron, date), misfire handling and
a persistent store are its job; what it lacks for several processes is the claim, added here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bot.logs import get_logger
from bot.scheduling.claiming import ClaimingExecutor, RunClaims, SharedJobStore
from bot.scheduling.tasks import run_task

log = get_logger(__name__)

JOB_TABLE = "apscheduler_jobs"
MISFIRE_GRACE_S = 3_600
POLL_S = 30.0

__all__ = ["JOB_TABLE", "JobScheduler", "RunClaims", "ScheduledJob", "sync_database_url"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledJob:
    id: str
    name: str
    trigger: str
    """APScheduler's description, e.g. "cron[hour='3', minute='0']" or "date[2030-01-01 …]"."""
    next_run_at: datetime | None
    """None while paused."""


def sync_database_url(url: str) -> str:
    """Where the job store lives, with a synchronous driver (APScheduler 3's store is sync): the
    same PostgreSQL database, or the SQLite file's `.jobs` sibling (see the module docstring)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            stem, dot, suffix = path.rpartition(".")
            path = f"{stem}.jobs.{suffix}" if dot and "/" not in suffix else f"{path}.jobs"
            parsed = parsed.set(database=path)
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


class JobScheduler:
    def __init__(
        self, database_url: str, *, claims: RunClaims | None = None, poll_s: float = POLL_S
    ) -> None:
        """`claims` None runs every due run (one process only, or a test)."""
        self._poll_s = poll_s
        self._poller: asyncio.Task[None] | None = None
        self._started = False
        self.scheduler = AsyncIOScheduler(
            jobstores={
                "default": SharedJobStore(url=sync_database_url(database_url), tablename=JOB_TABLE)
            },
            executors={"default": ClaimingExecutor(claims)},
            job_defaults={"misfire_grace_time": MISFIRE_GRACE_S, "coalesce": True},
            timezone=UTC,
        )

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self, *, paused: bool = False) -> None:
        """Start inside the running event loop (idempotent); due jobs run unless `paused` (a
        paused scheduler only reads and edits the store, as `python -m bot jobs` does)."""
        if self._started:
            return
        self._started = True
        self.scheduler.start(paused=paused)
        if not paused:
            self._poller = asyncio.get_running_loop().create_task(self._poll())

    def shutdown(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._started:  # AsyncIOScheduler stops in a later loop callback: ask once
            self._started = False
            self.scheduler.shutdown(wait=False)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)  # real time: other processes' jobs are real
            self.scheduler.wakeup()

    def ensure_daily(self, job_id: str, *, task: str, name: str, hour: int, minute: int) -> None:
        """A job that runs the registered `task` every day at hour:minute UTC; a run missed
        while every process was down runs as soon as one starts."""
        trigger = CronTrigger(hour=hour, minute=minute, timezone=UTC)
        existing: Job | None = self.scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            return
        self.scheduler.add_job(
            run_task,
            trigger=trigger,
            args=[task],
            id=job_id,
            name=name,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def ensure_interval(self, job_id: str, *, task: str, name: str, minutes: int) -> None:
        """A job that runs the registered `task` every `minutes`; 0 removes it. Like
        `ensure_daily`, an unchanged job is left as it is, so its next run stays put."""
        if minutes <= 0:
            self.remove(job_id)
            return
        trigger = IntervalTrigger(minutes=minutes, timezone=UTC)
        existing: Job | None = self.scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            return
        self.scheduler.add_job(
            run_task, trigger=trigger, args=[task], id=job_id, name=name, replace_existing=True
        )

    def run_once(self, job_id: str, *, task: str, name: str, at: datetime) -> None:
        """A job that runs the registered `task` once, at `at` (replacing one of that id)."""
        self.scheduler.add_job(
            run_task, trigger="date", run_date=at, args=[task], id=job_id, name=name,
            replace_existing=True,
        )  # fmt: skip

    def remove(self, job_id: str) -> bool:
        """Remove a job; False when there is none by that id."""
        if self.scheduler.get_job(job_id) is None:
            return False
        self.scheduler.remove_job(job_id)
        return True

    def jobs(self) -> list[ScheduledJob]:
        """Every job in the shared store, soonest first (needs `start`, paused or not)."""
        return [
            ScheduledJob(
                id=job.id,
                name=job.name,
                trigger=str(job.trigger),
                next_run_at=getattr(job, "next_run_time", None),
            )
            for job in self.scheduler.get_jobs()
        ]
