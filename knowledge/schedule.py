"""Scheduled reindex with APScheduler (3.x): every REINDEX_INTERVAL_MINUTES, off when 0.

The job has `max_instances=1` and `coalesce=True`, and it also skips a tick while any reindex
(scheduled, CLI or chat-driven) is running, so two never run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase

log = structlog.get_logger("knowledge")


async def scheduled_reindex(kb: KnowledgeBase) -> None:
    if kb.reindexing:
        log.info("knowledge.scheduled_reindex.skipped", reason="a reindex is already running")
        return
    try:
        report = await kb.reindex_report()
    except Exception as exc:
        log.warning("knowledge.scheduled_reindex.failed", error=f"{type(exc).__name__}: {exc}")
        return
    log.info(
        "knowledge.scheduled_reindex.done",
        indexed=report.indexed,
        deleted=report.deleted,
        errors=len(report.errors),
        seconds=round(report.duration_s, 2),
    )


def start_schedule(
    kb: KnowledgeBase, minutes: int, *, job: Callable[[], Awaitable[None]] | None = None
) -> AsyncIOScheduler | None:
    """Start the periodic reindex on the running event loop; None when `minutes` is 0. `job`
    replaces `scheduled_reindex(kb)` (the bot runs it under its reindex lease)."""
    if minutes <= 0:
        return None
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.add_job(
        job or scheduled_reindex,
        "interval",
        args=[] if job else [kb],
        minutes=minutes,
        id="knowledge-reindex",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler
