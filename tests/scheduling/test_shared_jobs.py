"""The shared scheduler: jobs scheduled in one process run once when two processes share the
database (SQLite and PostgreSQL), each run's claim records how it ended, and `python -m bot
jobs` lists what is scheduled with its next and last run."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.scheduling import JobScheduler, register_task, unregister_task
from storage import open_store
from storage.jobs import SqlJobRuns

REPO_ROOT = Path(__file__).resolve().parents[2]
JOBS = 5
_WORKER = """
import asyncio, os, sys
from datetime import datetime
from bot.scheduling import JobScheduler, register_task
from storage import open_store
from storage.jobs import SqlJobRuns

async def main(url: str, log_path: str) -> None:
    store = await open_store(url)
    jobs = JobScheduler(url, claims=SqlJobRuns(store.db, f"w{os.getpid()}"), poll_s=0.1)

    async def probe() -> str:
        with open(log_path, "a") as log:
            log.write(f"{os.getpid()}\\n")
        return "probed"

    register_task("probe", probe)
    jobs.start()
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if line.startswith("schedule "):
        at = datetime.fromisoformat(line.split()[1])
        for n in range(JOBS_N):
            jobs.run_once(f"probe-{n}", task="probe", name=f"probe {n}", at=at)
    await asyncio.sleep(float(sys.argv[3]))
    jobs.shutdown()
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
""".replace("JOBS_N", str(JOBS))


@pytest.mark.slow
async def test_a_job_scheduled_in_one_process_runs_once_when_two_share_the_database(
    db_url: str, tmp_path: Path
) -> None:
    await (await open_store(db_url)).close()  # migrate first
    log = tmp_path / "runs.log"
    log.touch()
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WORKER,
            db_url,
            str(log),
            "5",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert (await asyncio.wait_for(worker.stdout.readline(), 60)).strip() == b"ready"
    at = datetime.now(UTC) + timedelta(seconds=2)
    commands = [f"schedule {at.isoformat()}\n".encode(), b"wait\n"]
    await asyncio.wait_for(
        asyncio.gather(*(w.communicate(c) for w, c in zip(workers, commands, strict=True))), 60
    )
    assert [w.returncode for w in workers] == [0, 0]
    assert len(log.read_text().split()) == JOBS  # each job once, whichever process ran it

    store = await open_store(db_url)
    try:
        runs = await SqlJobRuns(store.db, "reader").last_runs()
    finally:
        await store.close()
    assert sorted(runs) == [f"probe-{n}" for n in range(JOBS)]
    assert {run.outcome for run in runs.values()} == {"ok: probed"}
    assert {run.run_at for run in runs.values()} == {at}


async def test_two_schedulers_in_one_process_claim_each_run_once(db_url: str) -> None:
    """The same race without processes: two schedulers, two engines, one database."""
    stores = [await open_store(db_url), await open_store(db_url)]
    ran: list[str] = []

    async def probe() -> str:
        ran.append("run")
        return ""

    register_task("probe-local", probe)
    schedulers = [
        JobScheduler(db_url, claims=SqlJobRuns(s.db, f"w{n}"), poll_s=0.05)
        for n, s in enumerate(stores)
    ]
    try:
        for scheduler in schedulers:
            scheduler.start()
        at = datetime.now(UTC) + timedelta(seconds=0.5)
        schedulers[0].run_once("local", task="probe-local", name="local probe", at=at)
        await asyncio.sleep(2)
        assert ran == ["run"]
        assert schedulers[1].jobs() == []  # a one-off job is gone from the shared store
        runs = await SqlJobRuns(stores[1].db, "reader").last_runs()
        assert runs["local"].outcome == "ok"
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
        for s in stores:
            await s.close()
        unregister_task("probe-local")


async def test_a_failing_job_is_recorded_and_the_scheduler_keeps_going(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"
    store = await open_store(url)
    jobs = JobScheduler(url, claims=SqlJobRuns(store.db, "w"), poll_s=0.05)
    done = asyncio.Event()

    async def boom() -> str:
        raise RuntimeError("the disk is full")

    async def fine() -> str:
        done.set()
        return "fine"

    register_task("boom", boom)
    register_task("fine", fine)
    try:
        jobs.start()
        now = datetime.now(UTC)
        jobs.run_once("boom", task="boom", name="boom", at=now + timedelta(seconds=0.2))
        jobs.run_once("fine", task="fine", name="fine", at=now + timedelta(seconds=0.6))
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.2)
        runs = await SqlJobRuns(store.db, "reader").last_runs()
        assert runs["boom"].outcome == "failed: the disk is full"
        assert runs["fine"].outcome == "ok: fine"
    finally:
        jobs.shutdown()
        await store.close()
        unregister_task("boom")
        unregister_task("fine")


def test_jobs_command_lists_the_scheduled_jobs(tmp_path: Path) -> None:
    """`python -m bot jobs` on the database a running bot would use."""
    data = tmp_path / "data"

    async def schedule() -> None:
        from bot.settings import Settings

        url = Settings(data_dir=data).sqlalchemy_url
        store = await open_store(url)
        jobs = JobScheduler(url)
        try:
            jobs.start(paused=True)
            jobs.ensure_daily("retention-purge", task="retention-purge", name="Purge", hour=3,
                              minute=0)  # fmt: skip
            at = datetime(2031, 1, 1, 9, tzinfo=UTC)
            jobs.run_once("later", task="probe", name="A later job", at=at)
            claims = SqlJobRuns(store.db, "w1")
            ran = datetime(2030, 6, 1, 3, tzinfo=UTC)
            assert await claims.claim("retention-purge", ran)
            assert not await claims.claim("retention-purge", ran)
            await claims.finish("retention-purge", ran, "ok: purged 2 conversations")
        finally:
            jobs.shutdown()
            await store.close()

    asyncio.run(schedule())
    import subprocess

    env = {**os.environ, "DATA_DIR": str(data)}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "jobs"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "retention-purge  Purge" in out
    assert "last run: 2030-06-01 03:00 UTC by w1: ok: purged 2 conversations" in out
    assert "later  A later job" in out and "next run: 2031-01-01 09:00 UTC" in out
    assert out.index("retention-purge") < out.index("later")  # soonest first
