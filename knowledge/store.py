"""The knowledge base's records in a vector store: collections, chunk points, document records.

How it works: the store's active collection (knowledge/vectors: a pointer file for the embedded
engine, an alias on a server) is the live one. Each collection holds
 - chunk points (`kind=chunk`): a dense vector and a sparse BM25 vector (term weights; Qdrant
   applies the IDF modifier), payload doc_id, source, title, section, chunk_index, content_hash,
   scopes, text;
 - one record per document (`kind=doc`, no vectors): its content hash, chunk count and scopes —
   the indexer's checkpoint;
 - one meta record (`kind=meta`): embedding model, dimension, state (building / ready), indexed
   roots and the last run's report.
Point ids are UUIDv5 of (document, content hash, chunk index), so writing the same chunk twice is
idempotent. A query runs a dense and a sparse search (each with its own threshold and the scope
filter) and fuses them with reciprocal rank fusion; the fused score is scaled so 1.0 means "first
in both lists" (the engine scores in float32, so it is capped at 1.0).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from knowledge.client import ALIAS, ClientHandle
from knowledge.documents import Chunk
from knowledge.embedding.base import Vector
from knowledge.vectors import RRF_K, Hit, HybridQuery, Point, SparseVector, Where

_NS = uuid.UUID("6f9c8a52-33c1-4c8e-9a55-0e6bb0a1c0de")
META_ID = str(uuid.uuid5(_NS, "meta"))
_UPSERT_BATCH = 256


def chunk_point_id(doc_id: str, content_hash: str, index: int) -> str:
    return str(uuid.uuid5(_NS, f"chunk:{doc_id}:{content_hash}:{index}"))


def doc_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(_NS, f"doc:{doc_id}"))


class Store:
    def __init__(self, handle: ClientHandle, *, alias: str = ALIAS) -> None:
        self.vectors = handle.store
        self.local = handle.local
        self.alias = alias

    # --- collections -------------------------------------------------------------------
    def active(self) -> str | None:
        return self.vectors.active()

    def collections(self) -> list[str]:
        return [n for n in self.vectors.names() if n.startswith(self.alias + "__")]

    def create(self, model: str, dimension: int) -> str:
        slug = "".join(ch if ch.isalnum() else "-" for ch in model.lower()).strip("-")[:40]
        name = (
            f"{self.alias}__{slug}__{dimension}__{time.strftime('%Y%m%d%H%M%S')}"
            f"{uuid.uuid4().hex[:4]}"
        )
        self.vectors.create(name, dimension)
        self.write_meta(
            name,
            {
                "model": model,
                "dimension": dimension,
                "state": "building",
                "created_at": time.time(),
                "roots": [],
                "last_run": None,
            },
        )
        return name

    def switch_alias(self, name: str) -> str | None:
        """Make `name` the live collection in one atomic step; return the previous one."""
        return self.vectors.activate(name)

    def drop(self, name: str) -> None:
        self.vectors.drop(name)

    # --- records -----------------------------------------------------------------------
    def read_meta(self, name: str) -> dict[str, Any] | None:
        found = self.vectors.retrieve(name, [META_ID])
        return dict(found[0].payload) if found else None

    def write_meta(self, name: str, meta: dict[str, Any]) -> None:
        self.vectors.upsert(name, [Point(id=META_ID, payload={**meta, "kind": "meta"})])

    def docs(self, name: str) -> dict[str, dict[str, Any]]:
        return {str(h.payload["doc_id"]): h.payload for h in self.vectors.scroll(name, _DOCS)}

    def put_doc(self, name: str, record: dict[str, Any]) -> None:
        point = Point(id=doc_point_id(record["doc_id"]), payload={**record, "kind": "doc"})
        self.vectors.upsert(name, [point])

    def set_doc_scopes(self, name: str, doc_id: str, scopes: Sequence[str]) -> None:
        self.vectors.set_payload(name, Where.eq(doc_id=doc_id), {"scopes": list(scopes)})

    def delete_doc(self, name: str, doc_id: str, *, keep_hash: str | None = None) -> None:
        """Remove a document's chunks (all, or all but version `keep_hash`); if all, its record."""
        where = Where(
            equal=(("doc_id", doc_id), ("kind", "chunk")),
            not_equal=(("content_hash", keep_hash),) if keep_hash else (),
        )
        ids = [doc_point_id(doc_id)] if keep_hash is None else []
        self.vectors.delete(name, where=where, ids=ids)

    def upsert_chunks(
        self,
        name: str,
        chunks: Sequence[Chunk],
        dense: Sequence[Vector],
        sparse: Sequence[SparseVector],
    ) -> None:
        points = [
            Point(
                id=chunk_point_id(c.doc_id, c.content_hash, c.index),
                dense=d,
                sparse=s,
                payload={
                    "kind": "chunk",
                    "doc_id": c.doc_id,
                    "source": c.source,
                    "title": c.title,
                    "section": c.section,
                    "chunk_index": c.index,
                    "content_hash": c.content_hash,
                    "scopes": list(c.scopes),
                    "text": c.text,
                },
            )
            for c, d, s in zip(chunks, dense, sparse, strict=True)
        ]
        for start in range(0, len(points), _UPSERT_BATCH):
            self.vectors.upsert(name, points[start : start + _UPSERT_BATCH])

    def count_chunks(self, name: str) -> int:
        return self.vectors.count(name, _CHUNKS)

    # --- search ------------------------------------------------------------------------
    def search(
        self,
        name: str,
        *,
        dense: Vector,
        sparse: SparseVector,
        scopes: Sequence[str] | None,
        limit: int,
        min_dense: float | None,
        min_sparse: float | None,
    ) -> list[Hit]:
        # Only chunk points have vectors, so no `kind` filter is needed.
        where = Where(any_of=("scopes", tuple(scopes))) if scopes is not None else None
        query = HybridQuery(
            dense=dense,
            sparse=sparse,
            where=where,
            limit=limit,
            depth=max(limit * 4, 20),
            min_dense=min_dense,
            min_sparse=min_sparse,
            rrf_k=RRF_K,
        )
        return [
            Hit(h.id, min(1.0, h.score * RRF_K / 2), h.payload)
            for h in self.vectors.hybrid(name, query)
            if h.payload.get("kind") == "chunk"
        ]


_DOCS = Where.eq(kind="doc")
_CHUNKS = Where.eq(kind="chunk")
