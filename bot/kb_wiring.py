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
from bot.settings import Settings

if TYPE_CHECKING:
    from knowledge import KnowledgeBase
    from storage.db import Database

log = get_logger(__name__)


def build_reindexer(
    settings: Settings, kb: KnowledgeBase, db: Database, clock: Clock, roots: Sequence[Path]
) -> ReindexRunner:
    """The reindex runner (lease and sources in the database); starts the scheduled reindex."""
    from knowledge.schedule import start_schedule
    from storage.kb_admin import SqlReindexLease, SqlSourceRegistry

    runner = ReindexRunner(
        knowledge=kb,
        lease=SqlReindexLease(db),
        clock=clock,
        sources=SqlSourceRegistry(db),
        configured=roots,
    )

    async def scheduled() -> None:
        outcome = await runner.run([], actor="scheduled", progress=metrics.reindex_progress)
        if isinstance(outcome, ReindexSummary):
            metrics.reindex_finished(errors=len(outcome.failed), failed=bool(outcome.failure))
        else:
            log.info("scheduled reindex skipped: one is running", by=outcome.actor)

    kb.scheduler = start_schedule(kb, settings.reindex_interval_minutes, job=scheduled)
    return runner


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
