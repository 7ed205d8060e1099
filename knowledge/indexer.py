"""Incremental, checkpointed, cancellable reindex of files into one collection (synchronous).

How it works: every file under the requested roots is read and hashed (its bytes plus the chunker
settings). A document whose record in the collection has the same hash is skipped (its scopes are
updated if the configuration changed them); a new or changed one is loaded, chunked, embedded and
written. Writes are ordered so the index is never without a document that is being replaced: new
chunks first, then the old version's chunks are deleted, then the document's record is written.
That record is the checkpoint: a run that crashes or is cancelled leaves finished documents
recorded, and the next run skips them and resumes with the rest. Documents recorded under a root
whose file is gone are removed. Each document read is scanned for injection patterns
(knowledge.injection); its record keeps the names found (`flags`), and a record from before
flagging existed is scanned once even when its file is unchanged (no re-embedding). Embedding is batched across small documents (about
`batch_chunks` chunks per call). An unreadable, corrupt or binary file is reported and skipped;
an embedding or storage failure stops the run (it would fail for every file) and is raised.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.ports import ProgressCallback
from knowledge.chunking import ChunkConfig, Piece, chunk_document, chunk_sections
from knowledge.documents import Chunk, LoadedDocument
from knowledge.embedding.base import Embedder
from knowledge.errors import DocumentError
from knowledge.injection import scan
from knowledge.loaders import load_bytes, read_capped
from knowledge.report import ReindexReport
from knowledge.scopes import ScopeRules
from knowledge.sparse import document_vector
from knowledge.store import Store
from knowledge.walk import iter_files

CHUNKER_VERSION = "2"


@dataclass(frozen=True)
class IndexConfig:
    chunk: ChunkConfig = field(default_factory=ChunkConfig)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    scopes: ScopeRules = field(default_factory=ScopeRules)
    max_file_bytes: int = 20 * 1024 * 1024
    batch_chunks: int = 64
    legacy_chunking: bool = False
    """Index as before structure-aware chunking (fixed windows with overlap, plain text as one
    section). Only the retrieval benchmark sets it, to compare the two in one run."""

    @property
    def signature(self) -> bytes:
        version = "1" if self.legacy_chunking else CHUNKER_VERSION
        return f"{self.chunk.size}:{self.chunk.overlap}:{version}".encode()

    def pieces(
        self, path: Path, data: bytes, *, capped: bool
    ) -> tuple[LoadedDocument, list[Piece]]:
        """Load one file and chunk it the way this configuration says."""
        legacy = self.legacy_chunking
        doc = load_bytes(
            path, data, capped=capped, max_chars=self.max_file_bytes, structure=not legacy
        )
        if legacy:
            old = chunk_sections(doc.sections, self.chunk)
            return doc, [Piece(headings=tuple(p.split(" > ")) if p else (), text=t) for p, t in old]
        return doc, chunk_document(doc.sections, self.chunk)


def display_source(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def doc_id_for(path: Path) -> str:
    return hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:20]


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


@dataclass
class _Pending:
    record: dict[str, Any]
    chunks: list[Chunk]
    new: bool
    """No record of this document yet: nothing of it to delete."""


class Indexer:
    def __init__(self, store: Store, embedder: Embedder, config: IndexConfig) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config

    def run(
        self,
        collection: str,
        roots: Sequence[Path],
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        report: ReindexReport | None = None,
    ) -> ReindexReport:
        report = report or ReindexReport(model=self.embedder.name, collection=collection)
        started = time.perf_counter()
        cancel = cancel or threading.Event()
        existing = self.store.docs(collection)
        files: list[Path] = []
        for root in roots:
            if root.exists():
                files.extend(
                    iter_files(root, include=self.config.include, exclude=self.config.exclude)
                )
            elif not any(_under(Path(r["path"]), [root]) for r in existing.values()):
                report.errors.append((display_source(root), "path not found"))
        files = list(dict.fromkeys(files))
        total = len(files)
        done = 0
        seen: set[str] = set()
        pending: list[_Pending] = []

        def tick() -> None:
            if progress is None:
                return
            elapsed = max(time.perf_counter() - started, 1e-9)
            progress(
                {
                    "documents": float(done),
                    "documents_total": float(total),
                    "chunks": float(report.chunks_written),
                    "errors": float(len(report.errors)),
                    "rate": done / elapsed,
                    "chunks_per_s": report.chunks_written / elapsed,
                }
            )

        def flush() -> None:
            nonlocal done
            if not pending:
                return
            chunks = [c for p in pending for c in p.chunks]
            texts = [c.embedding_text() for c in chunks]
            # The keyword vectors are Python work and the model's runs release the GIL: made
            # side by side, the first costs nothing while the model has a core to spare.
            with ThreadPoolExecutor(1, thread_name_prefix="sparse") as side:
                keywords = side.submit(lambda: [document_vector(t) for t in texts])
                dense = self.embedder.embed(texts)
                sparse = keywords.result()
            at = 0
            for item in pending:
                n = len(item.chunks)
                if item.new:  # recorded first, so a crash before the final record is redone
                    pending_record = {**item.record, "content_hash": "", "chunks": 0}
                    self.store.put_doc(collection, pending_record)
                self.store.upsert_chunks(
                    collection, item.chunks, dense[at : at + n], sparse[at : at + n]
                )
                at += n
                if not item.new:  # drop the previous version's chunks (and any orphans)
                    self.store.delete_doc(
                        collection, item.record["doc_id"], keep_hash=item.record["content_hash"]
                    )
                self.store.put_doc(collection, item.record)
                report.indexed += 1
                (report.added if item.new else report.changed).append(item.record["source"])
                report.chunks_written += n
                done += 1
                tick()
            pending.clear()

        tick()
        for path in files:
            if cancel.is_set():
                report.cancelled = True
                break
            report.documents_seen += 1
            doc_id = doc_id_for(path)
            seen.add(doc_id)
            source = display_source(path)
            item = self._prepare(path, doc_id, source, existing.get(doc_id), collection, report)
            if item is None:
                done += 1
                tick()
                continue
            pending.append(item)
            if sum(len(p.chunks) for p in pending) >= self.config.batch_chunks:
                if cancel.is_set():
                    report.cancelled = True
                    break
                flush()
        if not report.cancelled:
            flush()
            for doc_id, record in existing.items():
                if doc_id not in seen and _under(Path(record["path"]), roots):
                    self.store.delete_doc(collection, doc_id)
                    report.deleted += 1
                    report.removed.append(str(record.get("source", record["path"])))
        report.duration_s = time.perf_counter() - started
        tick()
        return report

    def _prepare(
        self,
        path: Path,
        doc_id: str,
        source: str,
        record: dict[str, Any] | None,
        collection: str,
        report: ReindexReport,
    ) -> _Pending | None:
        """A document to (re)embed, or None when it is skipped (unchanged, empty, bad)."""
        config = self.config
        try:
            data, capped = read_capped(path, config.max_file_bytes)
        except DocumentError as exc:
            report.errors.append((source, str(exc)))
            return None
        scopes = config.scopes.scopes_for_path(path)
        if not data.strip():
            self._empty(collection, doc_id, source, record, report)
            return None
        content_hash = hashlib.sha256(config.signature + b"\0" + data).hexdigest()[:32]
        if record is not None and record.get("content_hash") == content_hash:
            updated = dict(record)
            if list(record.get("scopes", [])) != list(scopes):
                self.store.set_doc_scopes(collection, doc_id, scopes)
                updated["scopes"] = list(scopes)
            if "flags" not in record:  # indexed before flagging: scan it once, keep its chunks
                try:
                    updated["flags"] = list(_flags(config.pieces(path, data, capped=capped)[0]))
                except Exception:
                    updated["flags"] = []  # it parsed when it was indexed; nothing to add now
            if updated != record:
                self.store.put_doc(collection, updated)
            if updated.get("flags"):
                report.flagged.append((source, tuple(updated["flags"])))
            report.unchanged += 1
            return None
        try:
            doc, pieces = config.pieces(path, data, capped=capped)
        except DocumentError as exc:
            report.errors.append((source, str(exc)))
            return None
        except Exception as exc:  # a parser choking on a corrupt file must not stop the run
            report.errors.append((source, f"could not parse: {type(exc).__name__}: {exc}"))
            return None
        report.warnings.extend((source, w) for w in doc.warnings)
        flags = _flags(doc)
        if flags:
            report.flagged.append((source, flags))
        if not pieces:
            self._empty(collection, doc_id, source, record, report)
            return None
        chunks = [
            Chunk(
                doc_id=doc_id,
                source=source,
                title=doc.title,
                section=piece.path,
                index=i,
                text=piece.text,
                content_hash=content_hash,
                scopes=scopes,
                lead=piece.lead,
            )
            for i, piece in enumerate(pieces)
        ]
        new_record = {
            "doc_id": doc_id,
            "path": str(path),
            "source": source,
            "title": doc.title,
            "content_hash": content_hash,
            "chunks": len(chunks),
            "scopes": list(scopes),
            "indexed_at": time.time(),
            "bytes": len(data),
            "flags": list(flags),
        }
        return _Pending(new_record, chunks, new=record is None)

    def _empty(
        self,
        collection: str,
        doc_id: str,
        source: str,
        record: dict[str, Any] | None,
        report: ReindexReport,
    ) -> None:
        """Skip a file with nothing to index; an earlier version of it is removed."""
        report.empty.append(source)
        if record is not None:
            self.store.delete_doc(collection, doc_id)
            report.deleted += 1
            report.removed.append(source)


def _flags(doc: LoadedDocument) -> tuple[str, ...]:
    """Injection patterns in the document's title and text (see knowledge.injection)."""
    parts = [doc.title]
    for section in doc.sections:
        parts.extend((*section.headings, section.text))
    return scan("\n".join(parts))
