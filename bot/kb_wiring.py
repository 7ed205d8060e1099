"""The knowledge administration parts of the composition root (`bot.app`): the reindex runner
with its database lease and sources, the scheduled reindex and the command line's reindex
requests run through it, and what `kb add` may add."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import metrics
from bot.clock import Clock
from bot.core.kb_runs import ReindexRunner
from bot.core.kb_sources import SourcePolicy
from bot.logs import get_logger
from bot.ports import ReindexSummary
from bot.scheduling import JobScheduler, register_task
from bot.settings import Settings

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from storage.db import Database

log = get_logger(__name__)


REINDEX_JOB = "knowledge-reindex"


def build_reindexer(
    kb: KnowledgeBase, db: Database, clock: Clock, roots: Sequence[Path]
) -> ReindexRunner:
    """The reindex runner (lease and sources in the database)."""
    from storage.kb_admin import SqlReindexLease, SqlSourceRegistry

    runner = ReindexRunner(
        knowledge=kb,
        lease=SqlReindexLease(db),
        clock=clock,
        sources=SqlSourceRegistry(db),
        configured=roots,
    )

    return runner


def schedule_reindex(jobs: JobScheduler, runner: ReindexRunner, minutes: int) -> None:
    """The reindex every REINDEX_INTERVAL_MINUTES (0: none), as a job of the shared scheduler,
    so with several processes each run happens in one of them."""

    async def scheduled() -> str:
        outcome = await runner.run([], actor="scheduled", progress=metrics.reindex_progress)
        if isinstance(outcome, ReindexSummary):
            metrics.reindex_finished(errors=len(outcome.failed), failed=bool(outcome.failure))
            return outcome.failure or f"{outcome.documents} documents"
        log.info("scheduled reindex skipped: one is running", by=outcome.actor)
        return f"skipped: {outcome.actor} was reindexing"

    register_task(REINDEX_JOB, scheduled)
    jobs.ensure_interval(
        REINDEX_JOB, task=REINDEX_JOB, name="Reindex the knowledge base", minutes=minutes
    )


def source_policy(settings: Settings) -> SourcePolicy:
    return SourcePolicy(
        allowed_hosts=settings.http_tool_allowed_hosts,
        add_roots=tuple(Path(p) for p in settings.knowledge_add_roots),
        fetched_dir=settings.data_dir / "kb-added",
        max_bytes=int(settings.knowledge_max_file_mb * 1024 * 1024),
    )


async def serve_reindex_requests(settings: Settings, runner: ReindexRunner) -> None:
    """Answer `kb reindex` from the command line while this process holds the local index."""
    from bot import reindex_requests
    from bot.core.kb_text import busy_text, summary_text

    async def reindex(paths: list[str]) -> tuple[str, int]:
        outcome = await runner.run(paths, actor="command line", progress=metrics.reindex_progress)
        if not isinstance(outcome, ReindexSummary):
            metrics.REINDEX_RUNS.labels("busy").inc()
            return busy_text(outcome), 2
        metrics.reindex_finished(errors=len(outcome.failed), failed=bool(outcome.failure))
        return summary_text(" ".join(paths), outcome), 1 if outcome.failed or outcome.failure else 0

    await reindex_requests.serve(settings.data_dir, reindex)
