"""The two APScheduler 3 parts that let several processes share one job store.

`ClaimingExecutor` runs a due job only after its run is claimed (`RunClaims.claim(job_id,
run_at)`, a primary-key insert in the database): every process that wakes for the run tries,
one wins, the others skip it. The scheduled time is the key, so a run that one process missed
and another later catches up on is still the same run. When the run ends, its outcome is
recorded on the claim.

`SharedJobStore` is APScheduler's `SQLAlchemyJobStore` that accepts that another process got
there first: after a one-off job runs, each process that saw it due removes it or moves its next
run time, and the second one finds nothing to update or remove. Stock, that raises
`JobLookupError` out of the scheduler's wake-up, which then never re-arms its timer. It also
survives two processes creating its table at the same moment (the loser retries, finds it).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.base import run_coroutine_job
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy.exc import DBAPIError

from bot.logs import get_logger

log = get_logger(__name__)


class RunClaims(Protocol):
    async def claim(self, job_id: str, run_at: datetime) -> bool:
        """True for the one process that claims this run, ever; False for every other."""

    async def finish(self, job_id: str, run_at: datetime, outcome: str) -> None:
        """Record how the claimed run ended ("ok", "missed", "failed: …")."""


class ClaimingExecutor(AsyncIOExecutor):  # type: ignore[misc]
    def __init__(self, claims: RunClaims | None) -> None:
        super().__init__()
        self._claims = claims

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        def done(future: Any) -> None:
            self._pending_futures.discard(future)
            try:
                events = future.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        future = self._eventloop.create_task(self._run_claimed(job, run_times))
        future.add_done_callback(done)
        self._pending_futures.add(future)

    async def _run_claimed(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        claims = self._claims
        won = [t for t in run_times if claims is None or await claims.claim(job.id, t)]
        if not won:
            log.debug("scheduled run claimed by another process", job=job.id)
            return []
        events: list[JobExecutionEvent] = await run_coroutine_job(
            job, job._jobstore_alias, won, self._logger.name
        )
        if claims is not None:
            for event in events:
                await claims.finish(job.id, event.scheduled_run_time, _outcome(event))
        return events


def _outcome(event: JobExecutionEvent) -> str:
    if event.code == EVENT_JOB_EXECUTED:
        report = event.retval if isinstance(event.retval, str) else ""
        return f"ok: {report}" if report else "ok"
    if event.code == EVENT_JOB_ERROR:
        return f"failed: {event.exception}"
    return "missed"


class SharedJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    def start(self, scheduler: Any, alias: str) -> None:
        try:
            super().start(scheduler, alias)
        except DBAPIError:  # CREATE TABLE raced another process's: the table is there now
            super().start(scheduler, alias)

    def update_job(self, job: Job) -> None:
        try:
            super().update_job(job)
        except JobLookupError:
            log.debug("scheduled job already removed by another process", job=job.id)

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.debug("scheduled job already removed by another process", job=job_id)
