"""`ReindexRunner`: every reindex — from chat, the schedule, the command line, start-up — runs
through here, under the database lease, so only one runs at a time across processes.

How a run goes:
1. `acquire` takes the lease (`bot.ports.ReindexLease`) for a fresh run id, or returns the live
   holder (who started it, on what, how far it is) for the caller to tell the person asking.
2. `execute` starts the knowledge base's reindex and, every `interval_s` until it ends, renews
   the lease with the latest progress (so other processes can show it) and reads back whether
   someone asked to cancel; a cancel from any process, or a lease lost to expiry, stops the
   reindex after its current document. `on_progress` (the chat's progress message) is called
   after each heartbeat.
3. However it ends (finished, cancelled, failed, the bot stopping) the lease is released with
   the run's outcome (what `kb status` shows as the last reindex) and each indexed source is
   stamped (`kb sources`).

The index itself stays consistent when a run stops early: the indexer records each document only
after its chunks are written (see knowledge.indexer), so the next run skips finished documents
and resumes with the rest. `spawn` runs `execute` in the background for chat commands and keeps
the task until it ends; `close` stops every such task when the bot stops.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.clock import Clock
from bot.core import kb_text
from bot.logs import get_logger
from bot.ports import (
    KnowledgeRuns,
    LastReindex,
    LeaseHolder,
    ProgressCallback,
    ReindexLease,
    ReindexSummary,
    SourceRegistry,
)

log = get_logger(__name__)

PROGRESS_S = 3.0
"""How often a run heartbeats and its progress message is edited (Slack allows ~50 edits a
minute per workspace; this leaves room for the answers being streamed meanwhile)."""

STOPPED = (
    "the bot stopped during the run. Finished documents are kept; the next `kb reindex` resumes "
    "with the rest"
)
OnProgress = Callable[["Run", dict[str, float], str], Awaitable[None]]
"""(run, latest progress, who asked to cancel or "")."""
OnDone = Callable[["Run", ReindexSummary, str], Awaitable[None]]
"""(run, summary, who cancelled it or "")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    id: str
    actor: str
    target: str
    """What was asked for, as shown ("" for every source)."""


class ReindexRunner:
    def __init__(
        self,
        *,
        knowledge: KnowledgeRuns,
        lease: ReindexLease,
        clock: Clock,
        sources: SourceRegistry | None = None,
        configured: Sequence[Path] = (),
        interval_s: float = PROGRESS_S,
    ) -> None:
        self._knowledge = knowledge
        self._lease = lease
        self._clock = clock
        self._sources = sources
        self.configured = tuple(str(p.expanduser().resolve()) for p in configured)
        """KNOWLEDGE_PATHS (or the bundled docs), resolved."""
        self.interval_s = interval_s
        """How often the run heartbeats and reports progress."""
        self._current: Run | None = None
        self._cancel_by = ""
        """Who asked the current (or last) run of this process to stop."""
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def lease(self) -> ReindexLease:
        return self._lease

    @property
    def sources(self) -> SourceRegistry | None:
        return self._sources

    @property
    def knowledge(self) -> KnowledgeRuns:
        return self._knowledge

    async def roots(self) -> list[str]:
        """Every source to index: the configured ones, then those added with `kb add`."""
        added = [s.path for s in await self._sources.sources()] if self._sources else []
        return list(dict.fromkeys([*self.configured, *added]))

    async def acquire(self, *, actor: str, target: str) -> Run | LeaseHolder:
        run = Run(id=uuid.uuid4().hex[:12], actor=actor, target=target)
        holder = await self._lease.acquire(run.id, actor=actor, target=target)
        return run if holder is None else holder

    async def run(
        self, paths: Sequence[str], *, actor: str, progress: ProgressCallback | None = None
    ) -> ReindexSummary | LeaseHolder:
        """Acquire and execute in one go (the schedule, the command line, start-up)."""
        run = await self.acquire(actor=actor, target=" ".join(paths))
        if isinstance(run, LeaseHolder):
            return run
        return await self.execute(run, paths or await self.roots(), progress=progress)

    async def execute(
        self,
        run: Run,
        paths: Sequence[str],
        *,
        on_progress: OnProgress | None = None,
        progress: ProgressCallback | None = None,
    ) -> ReindexSummary:
        latest: dict[str, float] = {}

        def seen(info: dict[str, float]) -> None:  # called from the indexing thread
            latest.update(info)
            if progress is not None:
                progress(info)

        self._current, self._cancel_by = run, ""
        task = asyncio.ensure_future(self._knowledge.reindex_summary(paths, progress=seen))
        summary, finished = ReindexSummary(failure=STOPPED), False
        try:
            while not task.done():
                tick = asyncio.ensure_future(self._clock.sleep(self.interval_s))
                await asyncio.wait({task, tick}, return_when=asyncio.FIRST_COMPLETED)
                tick.cancel()
                if task.done():
                    break
                cancel_by = await self._heartbeat(run, dict(latest))
                if cancel_by is None:
                    cancel_by = "another run that took over the lease"
                if cancel_by and not self._cancel_by:
                    self._cancel_by = cancel_by
                    self._knowledge.cancel_reindex()
                if on_progress is not None:
                    await _quietly(on_progress(run, dict(latest), self._cancel_by))
            summary, finished = task.result(), True
            return summary
        except asyncio.CancelledError:
            self._knowledge.cancel_reindex()
            await asyncio.wait([task])
            raise
        finally:
            self._current = None
            await self._finish(run, paths, summary, summary.outcome if finished else "stopped")

    async def _heartbeat(self, run: Run, progress: dict[str, float]) -> str | None:
        try:
            # Shielded: a stop cancelling the run mid-write would leave the connection inside a
            # transaction; the write finishes and the release queues behind it.
            cancel_by = await asyncio.shield(self._lease.heartbeat(run.id, progress))
        except Exception as exc:  # the database is down: keep indexing, try again next tick
            log.warning("reindex heartbeat failed", error=str(exc))
            return ""
        if cancel_by is None:
            log.warning("reindex lease lost to another run; stopping this one", run=run.id)
        return cancel_by

    async def _finish(
        self, run: Run, paths: Sequence[str], summary: ReindexSummary, outcome: str
    ) -> None:
        last = LastReindex(
            actor=run.actor,
            target=run.target,
            finished_at=datetime.now(UTC),
            outcome=outcome,
            headline=kb_text.headline(summary),
        )
        try:
            await self._lease.release(run.id, last)
            if self._sources is not None:
                known = set(await self.roots())
                asked = [resolved(p) for p in paths]
                await self._sources.mark_indexed([p for p in asked if p in known], outcome=outcome)
        except Exception:
            log.exception("could not record the end of a reindex", run=run.id)
        log.info("reindex finished", run=run.id, actor=run.actor, outcome=outcome)

    async def cancel(self, by: str) -> LeaseHolder | None:
        """Ask the running reindex, in whichever process, to stop; None when none runs."""
        holder = await self._lease.request_cancel(by)
        current = self._current
        if holder is not None and current is not None and holder.run_id == current.id:
            self._cancel_by = self._cancel_by or by
            self._knowledge.cancel_reindex()  # ours: at once, not at the next heartbeat
        return holder

    def spawn(
        self,
        run: Run,
        paths: Sequence[str],
        *,
        on_progress: OnProgress | None = None,
        on_done: OnDone | None = None,
    ) -> asyncio.Task[None]:
        """Execute `run` in the background; `on_done` gets the summary."""

        async def background() -> None:
            try:
                summary = await self.execute(run, paths, on_progress=on_progress)
            except asyncio.CancelledError:  # the bot is stopping: say so where the run showed
                if on_done is not None:
                    await _quietly(on_done(run, ReindexSummary(failure=STOPPED), ""))
                raise
            if on_done is not None:
                await _quietly(on_done(run, summary, self._cancel_by))

        task = asyncio.create_task(background())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def idle(self) -> None:
        """Wait until every background run has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def resolved(path: str) -> str:
    """`path` absolute, as sources are stored and compared."""
    return str(Path(path).expanduser().resolve())


async def _quietly(work: Awaitable[Any]) -> Any:
    """A report that fails (the platform is down) must not end the run or hide its result."""
    try:
        return await work
    except Exception:
        log.exception("reindex progress or report could not be shown")
        return None
