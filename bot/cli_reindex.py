"""`kb reindex` on the command line: under the database reindex lease when it can open the index
itself, or handed to the running bot when that holds the local index (bot.reindex_requests)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import reindex_requests
from bot.ports import LeaseHolder, ProgressCallback, ReindexSummary
from bot.settings import Settings

if TYPE_CHECKING:
    from knowledge import KnowledgeBase, ReindexReport


def reindex_through_running_bot(settings: Settings, paths: list[str], locked: Exception) -> int:
    """Ask the running bot to reindex `paths`; print its report and return its exit code."""
    request_id = reindex_requests.submit(settings.data_dir, paths)
    print(
        "The running bot holds the knowledge index; asking it to reindex "
        f"{', '.join(paths) or 'the configured folders'}…",
        file=sys.stderr,
    )
    try:
        result = reindex_requests.wait(settings.data_dir, request_id)
    except KeyboardInterrupt:
        print("Stopped waiting; the bot finishes the reindex on its own.", file=sys.stderr)
        return 130
    if result is None:
        print(
            f"parley kb: {locked} (No running bot answered the reindex request within "
            f"{reindex_requests.PICKUP_S:.0f} s.)",
            file=sys.stderr,
        )
        return 2
    print(result.text)
    return result.exit_code


class _Keeping:
    """The knowledge base as the reindex runner sees it, keeping the full report for the CLI."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.report: ReindexReport | None = None

    async def reindex_summary(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> ReindexSummary:
        self.report = await self.kb.reindex_report(paths, progress=progress)
        return self.report.outcome()

    def cancel_reindex(self) -> None:
        self.kb.cancel_reindex()

    async def remove_source(self, root: str) -> int:
        return await self.kb.remove_source(root)

    async def document_counts(self, roots: Sequence[str]) -> dict[str, int]:
        return await self.kb.document_counts(roots)


async def reindex_under_lease(
    settings: Settings,
    kb: KnowledgeBase,
    paths: list[str],
    progress: ProgressCallback | None,
) -> ReindexReport:
    """`kb reindex` on the command line, under the same database lease as the bot's reindexes
    (a Qdrant server can be shared by a running bot); ReindexBusy names who runs one."""
    from bot.clock import MonotonicClock
    from bot.core.kb_runs import ReindexRunner
    from bot.core.kb_text import busy_text
    from knowledge import ReindexBusy, default_paths
    from storage import open_store
    from storage.kb_admin import SqlReindexLease, SqlSourceRegistry

    store = await open_store(settings.sqlalchemy_url)
    keeping = _Keeping(kb)
    try:
        runner = ReindexRunner(
            knowledge=keeping,
            lease=SqlReindexLease(store.db),
            clock=MonotonicClock(),
            sources=SqlSourceRegistry(store.db),
            configured=[Path(p) for p in default_paths(settings)],
        )
        outcome = await runner.run(paths, actor="command line", progress=progress)
    finally:
        await store.close()
    if isinstance(outcome, LeaseHolder):
        raise ReindexBusy(busy_text(outcome))
    assert keeping.report is not None
    return keeping.report
