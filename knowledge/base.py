"""`KnowledgeBase`: the facade the core (Retriever) and admins (KnowledgeAdmin) use.

Blocking work — embedding, Qdrant local mode, file reading — runs in worker threads, so the event
loop only waits on it. One reindex runs at a time; a second request while one runs is refused
with a clear message. A reindex whose embedding model differs from the live collection's builds a
new collection (the old one keeps answering, embedded with its own model, while the new one fills)
and switches the alias only when the build is complete, then drops the old collection: vectors of
two models are never mixed and there is no window with an empty index.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from bot.ports import Passage, ProgressCallback, ReindexSummary
from bot.settings import Settings
from knowledge.client import ClientHandle, release
from knowledge.embedding import Embedder, make_embedder
from knowledge.errors import KnowledgeError, KnowledgeUnavailable
from knowledge.indexer import IndexConfig, Indexer
from knowledge.relevance import Hit, relevant, score_hits
from knowledge.report import ReindexReport
from knowledge.sparse import query_vector
from knowledge.store import Store

log = structlog.get_logger("knowledge")

BUNDLED_DOCS = Path(__file__).resolve().parents[1] / "docs"


class ReindexBusy(KnowledgeError):
    """A reindex is already running."""


def default_paths(settings: Settings) -> tuple[str, ...]:
    """KNOWLEDGE_PATHS, or the bundled user docs when none are configured."""
    if settings.knowledge_paths:
        return settings.knowledge_paths
    return (str(BUNDLED_DOCS),) if BUNDLED_DOCS.is_dir() else ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeStatus:
    where: str
    collection: str | None
    model: str | None
    dimension: int | None
    documents: int
    chunks: int
    last_run: dict[str, Any] | None
    building: str | None = None
    flagged: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(source, injection patterns) of every indexed document that has some."""

    def render(self) -> str:
        if self.collection is None:
            lines = [
                f"Knowledge base ({self.where}): empty — nothing indexed yet.",
                "Add documents with `python -m bot kb reindex PATH` (or set KNOWLEDGE_PATHS).",
            ]
        else:
            lines = [
                f"Knowledge base ({self.where}), collection {self.collection}",
                f"Model: {self.model} ({self.dimension} dimensions)",
                f"Documents: {self.documents}, chunks: {self.chunks}",
            ]
        if self.building:
            lines.append(f"An unfinished build exists ({self.building}); `kb reindex` resumes it.")
        run = self.last_run
        if run:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.get("finished_at", 0)))
            state = (
                "cancelled" if run.get("cancelled") else "failed" if run.get("failure") else "ok"
            )
            lines.append(
                f"Last run: {when} ({state}), {run.get('documents', 0)} documents: "
                f"{run.get('indexed', 0)} indexed, {run.get('unchanged', 0)} unchanged, "
                f"{run.get('deleted', 0)} removed, {len(run.get('errors', []))} errors, "
                f"{run.get('duration_s', 0):.1f}s"
            )
            if run.get("failure"):
                lines.append(f"  failure: {run['failure']}")
            lines.extend(f"  error: {e}" for e in run.get("errors", [])[:20])
        elif self.collection is not None:
            lines.append("Last run: none recorded")
        if self.flagged:
            lines.append(
                f"Flagged for injection patterns ({len(self.flagged)} documents; review them):"
            )
            lines.extend(f"  {src}: {', '.join(names)}" for src, names in self.flagged[:20])
            if len(self.flagged) > 20:
                lines.append(f"  … and {len(self.flagged) - 20} more")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Served:
    """What a query needs to know about the collection it searches."""

    embedder: Embedder
    """The collection's own model, for the query vector."""
    best_idf: float
    """IDF of a term found in one chunk: the sparse threshold is `sparse_ratio` of it."""
    all_public: bool
    """Every document is public, so a query that sees public needs no scope filter."""


class KnowledgeBase:
    """Implements bot.ports.Retriever and bot.ports.KnowledgeAdmin."""

    def __init__(
        self,
        settings: Settings,
        handle: ClientHandle,
        embedder: Embedder,
        *,
        config: IndexConfig,
        min_score: float | None,
        sparse_ratio: float = 0.5,
    ) -> None:
        self.settings = settings
        self._handle = handle
        self.store = Store(handle)
        self.embedder = embedder
        self.config = config
        self.min_score = min_score
        """Best dense cosine a query's hits need, else nothing is relevant (None: no threshold);
        an identifier from the query found in a hit also counts (see knowledge.relevance)."""
        self.sparse_ratio = sparse_ratio
        """Sparse score a passage needs, as a share of the best single-term IDF in the corpus."""
        self._query_embedders: dict[str, Embedder] = {embedder.name: embedder}
        self._served: dict[str, _Served] = {}
        self._reindex_lock = threading.Lock()
        self._cancel = threading.Event()
        self._closed = False
        self.scheduler: Any = None

    # --- Retriever ---------------------------------------------------------------------
    async def retrieve(self, query: str, *, scopes: Sequence[str], limit: int = 8) -> list[Passage]:
        return await self.search(query, scopes=scopes, limit=limit)

    async def search(
        self, query: str, *, scopes: Sequence[str] | None = None, limit: int = 5
    ) -> list[Passage]:
        return await asyncio.to_thread(
            self._query, query, None if scopes is None else list(scopes), limit
        )

    def _query_embedder(self, model: str) -> Embedder:
        embedder = self._query_embedders.get(model)
        if embedder is None:
            try:
                embedder = make_embedder(model, self.settings)
            except Exception as exc:
                raise KnowledgeUnavailable(
                    f"The knowledge index was built with {model}, which cannot be loaded here "
                    f"({exc}). Run `python -m bot kb reindex` to rebuild it with "
                    f"{self.embedder.name}."
                ) from exc
            self._query_embedders[model] = embedder
        return embedder

    def _serving(self, name: str) -> _Served:
        """What queries on collection `name` need, read once and kept until its next reindex."""
        served = self._served.get(name)
        if served is None:
            meta = self.store.read_meta(name) or {}
            embedder = self._query_embedder(str(meta.get("model", self.embedder.name)))
            docs = self.store.docs(name)
            count = self.store.count_chunks(name)
            served = self._served[name] = _Served(
                embedder=embedder,
                best_idf=math.log(1 + max(count - 0.5, 0.5) / 1.5),
                all_public=all("public" in record.get("scopes", ()) for record in docs.values()),
            )
        return served

    async def search_hits(
        self, query: str, *, scopes: Sequence[str] | None = None, limit: int = 5
    ) -> list[Hit]:
        """Ranked hits with their fused and dense scores (`kb search --json`); [] when nothing is
        relevant (see knowledge.relevance)."""
        return await asyncio.to_thread(
            self._hits, query, None if scopes is None else list(scopes), limit
        )

    def _hits(self, query: str, scopes: list[str] | None, limit: int) -> list[Hit]:
        if not query.strip():
            return []
        try:
            name = self.store.active()
            if name is None:
                return []
            served = self._serving(name)
            if scopes is not None and served.all_public and "public" in scopes:
                scopes = None  # every document is public: skip the filter (a scan in local mode)
            dense = served.embedder.embed([query])[0]
            points = self.store.search(
                name,
                dense=dense,
                sparse=query_vector(query),
                scopes=scopes,
                limit=limit,
                min_dense=None,  # dense ranks always help the order; relevance is decided below
                min_sparse=self.sparse_ratio * served.best_idf,
            )
            hits = score_hits(self.store, name, points, dense)
        except KnowledgeError:
            raise
        except Exception as exc:
            raise KnowledgeUnavailable(
                f"Knowledge search failed ({self._handle.where}): {type(exc).__name__}: {exc}"
            ) from exc
        return hits if relevant(hits, query, self.min_score) else []

    def _query(self, query: str, scopes: list[str] | None, limit: int) -> list[Passage]:
        return [
            Passage(
                text=str(h.payload.get("text", "")),
                title=str(h.payload.get("title", "")),
                source=str(h.payload.get("source", "")),
                section=str(h.payload.get("section", "")),
                score=h.fused,
                chunk_id=h.id,
            )
            for h in self._hits(query, scopes, limit)
        ]

    # --- KnowledgeAdmin ----------------------------------------------------------------
    @property
    def reindexing(self) -> bool:
        return self._reindex_lock.locked()

    def cancel_reindex(self) -> None:
        """Ask a running reindex to stop after the current document (its progress is kept)."""
        self._cancel.set()

    async def reindex(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> str:
        try:
            report = await self.reindex_report(paths, progress=progress)
        except ReindexBusy as exc:
            return str(exc)
        return report.render()

    async def reindex_report(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> ReindexReport:
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusy("A reindex is already running; try again when it has finished.")
        self._cancel.clear()
        try:
            task = asyncio.ensure_future(asyncio.to_thread(self._reindex, paths, progress))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                self._cancel.set()  # stop the worker after the current document, keep progress
                await asyncio.wait([task])
                raise
        finally:
            self._reindex_lock.release()

    async def reindex_summary(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> ReindexSummary:
        try:
            report = await self.reindex_report(paths, progress=progress)
        except ReindexBusy as exc:
            return ReindexSummary(failure=str(exc))
        except Exception as exc:
            return ReindexSummary(failure=f"{type(exc).__name__}: {exc}")
        return report.outcome()

    async def remove_source(self, root: str) -> int:
        if not self._reindex_lock.acquire(blocking=False):
            raise ReindexBusy("A reindex is running; remove the source when it has finished.")
        try:
            return await asyncio.to_thread(self._remove_source, Path(root))
        finally:
            self._reindex_lock.release()

    def _remove_source(self, root: Path) -> int:
        """Delete the documents under `root` from every collection and forget the root."""
        root, removed = root.expanduser().resolve(), 0
        for name in self.store.collections():
            for doc_id, record in self.store.docs(name).items():
                if Path(str(record.get("path", ""))).is_relative_to(root):
                    self.store.delete_doc(name, doc_id)
                    removed += name == self.store.active()
            meta = self.store.read_meta(name) or {}
            roots = [r for r in meta.get("roots", []) if Path(r) != root]
            if roots != meta.get("roots", []):
                self.store.write_meta(name, {**meta, "roots": roots})
            self._served.pop(name, None)
        return removed

    async def document_counts(self, roots: Sequence[str]) -> dict[str, int]:
        def count() -> dict[str, int]:
            active = self.store.active()
            docs = self.store.docs(active).values() if active else ()
            paths = [Path(str(record.get("path", ""))) for record in docs]
            return {
                root: sum(p.is_relative_to(Path(root).expanduser().resolve()) for p in paths)
                for root in roots
            }

        return await asyncio.to_thread(count)

    def _roots(self, paths: Sequence[str]) -> list[Path]:
        chosen = paths or default_paths(self.settings)
        return [Path(p).expanduser().resolve() for p in chosen]

    def _reindex(self, paths: Sequence[str], progress: ProgressCallback | None) -> ReindexReport:
        store, model, dim = self.store, self.embedder.name, self.embedder.dimension
        roots = self._roots(paths)
        active = store.active()
        active_meta = (store.read_meta(active) if active else None) or {}
        switching = False
        if active is None:  # first index: nothing to protect, so serve it while it fills
            target = store.create(model, dim)
            store.switch_alias(target)
        elif active_meta.get("model") == model and active_meta.get("dimension") == dim:
            target = active
        else:
            switching = True
            target = self._resumable_build(active, model, dim) or store.create(model, dim)
            known = [Path(r) for r in active_meta.get("roots", [])]
            roots = list(dict.fromkeys([*roots, *known]))
        meta = store.read_meta(target) or {}
        report = ReindexReport(model=model, collection=target)
        try:
            Indexer(store, self.embedder, self.config).run(
                target, roots, progress=progress, cancel=self._cancel, report=report
            )
        except Exception as exc:
            report.failure = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            all_roots = list(dict.fromkeys([*meta.get("roots", []), *(str(r) for r in roots)]))
            meta.update(roots=all_roots, last_run=report.summary())
            store.write_meta(target, meta)
            self._served.pop(target, None)
        if switching and not report.cancelled:
            meta["state"] = "ready"
            store.write_meta(target, meta)
            report.switched_from = store.switch_alias(target)
            for name in store.collections():
                if name != target:
                    store.drop(name)
                    self._served.pop(name, None)
            log.info("knowledge.switched", collection=target, previous=report.switched_from)
        elif not switching and meta.get("state") != "ready":
            meta["state"] = "ready"
            store.write_meta(target, meta)
        return report

    def _resumable_build(self, active: str | None, model: str, dim: int) -> str | None:
        for name in reversed(self.store.collections()):
            if name == active:
                continue
            meta = self.store.read_meta(name) or {}
            if (
                meta.get("model") == model
                and meta.get("dimension") == dim
                and meta.get("state") == "building"
            ):
                return name
        return None

    async def status(self) -> str:
        return (await self.info()).render()

    async def info(self) -> KnowledgeStatus:
        return await asyncio.to_thread(self._info)

    def _info(self) -> KnowledgeStatus:
        where = ("local: " if self._handle.local else "server: ") + self._handle.where
        try:
            active = self.store.active()
            building = self._resumable_build(active, self.embedder.name, self.embedder.dimension)
            if active is None:
                return KnowledgeStatus(
                    where=where,
                    collection=None,
                    model=None,
                    dimension=None,
                    documents=0,
                    chunks=0,
                    last_run=None,
                    building=building,
                )
            meta = self.store.read_meta(active) or {}
            docs = self.store.docs(active)
            return KnowledgeStatus(
                where=where,
                collection=active,
                model=meta.get("model"),
                dimension=meta.get("dimension"),
                documents=len(docs),
                chunks=self.store.count_chunks(active),
                last_run=meta.get("last_run"),
                building=building,
                flagged=tuple(
                    (str(r.get("source", r.get("path", ""))), tuple(r["flags"]))
                    for r in sorted(docs.values(), key=lambda r: str(r.get("source", "")))
                    if r.get("flags")
                ),
            )
        except Exception as exc:
            raise KnowledgeUnavailable(
                f"Knowledge base at {self._handle.where} is not available: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    async def is_empty(self) -> bool:
        return await asyncio.to_thread(lambda: self.store.active() is None)

    def _wait_for_reindex(self) -> None:
        with self._reindex_lock:
            pass

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        self.cancel_reindex()
        await asyncio.to_thread(self._wait_for_reindex)
        release(self._handle)
