"""`python -m bot jobs`: every job in the shared job store, soonest first, with its trigger, next
run and last run (when, which process, how it ended). A command-line entry point, so like
`bot.app` it opens the concrete store; the scheduler is started paused, so listing never runs a
job."""

from __future__ import annotations

from datetime import datetime
from typing import TextIO

from bot.scheduling.scheduler import JobScheduler
from bot.settings import Settings


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


async def print_jobs(settings: Settings, out: TextIO) -> int:
    from storage import open_store
    from storage.jobs import SqlJobRuns

    store = await open_store(settings.sqlalchemy_url)
    jobs = JobScheduler(settings.sqlalchemy_url)
    try:
        runs = SqlJobRuns(store.db, store.worker_id)
        last = await runs.last_runs()
        jobs.start(paused=True)
        listed = jobs.jobs()
    finally:
        jobs.shutdown()
        await store.close()
    if not listed:
        print("No scheduled jobs.", file=out)
        return 0
    for job in listed:
        print(f"{job.id}  {job.name}", file=out)
        print(f"  trigger:  {job.trigger}", file=out)
        print(f"  next run: {_when(job.next_run_at)}", file=out)
        run = last.get(job.id)
        if run is not None:
            print(f"  last run: {_when(run.run_at)} by {run.worker}: {run.outcome}", file=out)
        else:
            print("  last run: never", file=out)
    return 0
