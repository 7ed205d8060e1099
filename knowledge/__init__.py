"""Knowledge base: loaders, chunking, embeddings, Qdrant hybrid retrieval, incremental reindex.

The core sees only `bot.ports.Retriever` / `KnowledgeAdmin`; `KnowledgeBase` implements both.

    kb = await open_knowledge_base(settings)
    await ensure_initial_index(kb, settings)     # at start-up
    passages = await kb.retrieve(query, scopes=scopes_for(ref))
    await kb.close()
"""

from __future__ import annotations

import asyncio

from bot.ports import ProgressCallback
from bot.settings import Settings
from knowledge.base import KnowledgeBase, KnowledgeStatus, ReindexBusy, default_paths
from knowledge.chunking import ChunkConfig
from knowledge.client import acquire, release
from knowledge.embedding import Embedder, make_embedder
from knowledge.errors import KnowledgeError, KnowledgeUnavailable
from knowledge.indexer import IndexConfig
from knowledge.report import ReindexReport
from knowledge.schedule import start_schedule
from knowledge.scopes import ScopeRules


def index_config(settings: Settings) -> IndexConfig:
    return IndexConfig(
        chunk=ChunkConfig(settings.knowledge_chunk_chars, settings.knowledge_chunk_overlap),
        include=settings.knowledge_include,
        exclude=settings.knowledge_exclude,
        scopes=ScopeRules.parse(settings.knowledge_scopes),
        max_file_bytes=int(settings.knowledge_max_file_mb * 1024 * 1024),
    )


async def open_knowledge_base(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    schedule: bool = True,
    min_score: float | None = None,
) -> KnowledgeBase:
    """Open (or create) the knowledge base; raises KnowledgeUnavailable / ConfigError clearly.

    `embedder` replaces the one EMBEDDING_MODEL names (tests); `schedule=False` skips the
    periodic reindex (CLI); `min_score` overrides KNOWLEDGE_MIN_SCORE.
    """
    config = index_config(settings)
    if embedder is None:
        embedder = await asyncio.to_thread(make_embedder, settings.embedding_model, settings)
    handle = await asyncio.to_thread(acquire, settings)
    try:
        kb = KnowledgeBase(
            settings,
            handle,
            embedder,
            config=config,
            min_score=settings.knowledge_min_score if min_score is None else min_score,
        )
    except BaseException:
        release(handle)
        raise
    if schedule:
        kb.scheduler = start_schedule(kb, settings.reindex_interval_minutes)
    return kb


async def ensure_initial_index(
    kb: KnowledgeBase, settings: Settings, *, progress: ProgressCallback | None = None
) -> ReindexReport | None:
    """Index the default paths (KNOWLEDGE_PATHS, else the bundled docs/) at start-up.

    Incremental, so it is quick when nothing changed; it also finishes an interrupted run and
    rebuilds after an EMBEDDING_MODEL change. None when there is nothing to index or a reindex is
    already running. `progress` is called from the indexing thread (the console's progress line).
    """
    paths = default_paths(settings)
    if not paths:
        return None
    try:
        return await kb.reindex_report(paths, progress=progress)
    except ReindexBusy:
        return None


__all__ = [
    "ChunkConfig",
    "IndexConfig",
    "KnowledgeBase",
    "KnowledgeError",
    "KnowledgeStatus",
    "KnowledgeUnavailable",
    "ReindexBusy",
    "ReindexReport",
    "ScopeRules",
    "default_paths",
    "ensure_initial_index",
    "index_config",
    "open_knowledge_base",
]
