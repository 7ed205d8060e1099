"""The Qdrant side: collections behind an alias, chunk points, document records, hybrid search.

How it works: the alias `parley_knowledge` names the live collection. Each collection holds
 - chunk points (`kind=chunk`): a named dense vector `dense` and a sparse vector `bm25` (term
   weights; Qdrant applies `Modifier.IDF`), payload doc_id, source, title, section, chunk_index,
   content_hash, scopes, text;
 - one record per document (`kind=doc`, no vectors): its content hash, chunk count and scopes —
   the indexer's checkpoint;
 - one meta record (`kind=meta`): embedding model, dimension, state (building / ready), indexed
   roots and the last run's report.
Point ids are UUIDv5 of (document, content hash, chunk index), so writing the same chunk twice is
idempotent. A query runs a dense and a sparse prefetch (each with its own threshold and the scope
filter) and fuses them with reciprocal rank fusion; the fused score is scaled so 1.0 means "first
in both lists".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from qdrant_client import models

from knowledge.client import ClientHandle
from knowledge.documents import Chunk
from knowledge.embedding.base import Vector

ALIAS = "parley_knowledge"
DENSE = "dense"
SPARSE = "bm25"
RRF_K = 60
_NS = uuid.UUID("6f9c8a52-33c1-4c8e-9a55-0e6bb0a1c0de")
META_ID = str(uuid.uuid5(_NS, "meta"))


def chunk_point_id(doc_id: str, content_hash: str, index: int) -> str:
    return str(uuid.uuid5(_NS, f"chunk:{doc_id}:{content_hash}:{index}"))


def doc_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(_NS, f"doc:{doc_id}"))


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


class Store:
    def __init__(self, handle: ClientHandle, *, alias: str = ALIAS) -> None:
        self.client = handle.client
        self.local = handle.local
        self.lock = handle.lock
        self.alias = alias

    # --- collections and alias ---------------------------------------------------------
    def active(self) -> str | None:
        with self.lock:
            for alias in self.client.get_aliases().aliases:
                if alias.alias_name == self.alias:
                    return alias.collection_name
        return None

    def collections(self) -> list[str]:
        with self.lock:
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(self.alias + "__"))

    def create(self, model: str, dimension: int) -> str:
        slug = "".join(ch if ch.isalnum() else "-" for ch in model.lower()).strip("-")[:40]
        name = (
            f"{self.alias}__{slug}__{dimension}__{time.strftime('%Y%m%d%H%M%S')}"
            f"{uuid.uuid4().hex[:4]}"
        )
        with self.lock:
            self.client.create_collection(
                name,
                vectors_config={
                    DENSE: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            if not self.local:  # payload indexes are a no-op (with a warning) in local mode
                for field in ("kind", "doc_id", "scopes"):
                    self.client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)
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
        """Point the alias at `name` in one atomic operation; return the previous target."""
        old = self.active()
        ops: list[models.AliasOperations] = []
        if old is not None:
            ops.append(
                models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=self.alias))
            )
        ops.append(
            models.CreateAliasOperation(
                create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)
            )
        )
        with self.lock:
            self.client.update_collection_aliases(change_aliases_operations=ops)
        return old

    def drop(self, name: str) -> None:
        with self.lock:
            self.client.delete_collection(name)

    # --- records -----------------------------------------------------------------------
    def read_meta(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self.client.retrieve(name, ids=[META_ID], with_payload=True)
        return dict(found[0].payload or {}) if found else None

    def write_meta(self, name: str, meta: dict[str, Any]) -> None:
        with self.lock:
            self.client.upsert(
                name, [models.PointStruct(id=META_ID, vector={}, payload={**meta, "kind": "meta"})]
            )

    def docs(self, name: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        offset: Any = None
        flt = models.Filter(must=[_match("kind", "doc")])
        while True:
            with self.lock:
                records, offset = self.client.scroll(
                    name, scroll_filter=flt, limit=1000, offset=offset, with_payload=True
                )
            for record in records:
                payload = dict(record.payload or {})
                out[str(payload["doc_id"])] = payload
            if offset is None:
                return out

    def put_doc(self, name: str, record: dict[str, Any]) -> None:
        with self.lock:
            self.client.upsert(
                name,
                [
                    models.PointStruct(
                        id=doc_point_id(record["doc_id"]),
                        vector={},
                        payload={**record, "kind": "doc"},
                    )
                ],
            )

    def set_doc_scopes(self, name: str, doc_id: str, scopes: Sequence[str]) -> None:
        selector = models.FilterSelector(filter=models.Filter(must=[_match("doc_id", doc_id)]))
        with self.lock:
            self.client.set_payload(name, payload={"scopes": list(scopes)}, points=selector)

    def delete_doc(self, name: str, doc_id: str, *, keep_hash: str | None = None) -> None:
        """Remove a document's chunks (all, or all but version `keep_hash`); if all, its record."""
        must: list[models.Condition] = [_match("doc_id", doc_id), _match("kind", "chunk")]
        must_not: list[models.Condition] = [_match("content_hash", keep_hash)] if keep_hash else []
        with self.lock:
            self.client.delete(
                name,
                points_selector=models.FilterSelector(
                    filter=models.Filter(must=must, must_not=must_not)
                ),
            )
            if keep_hash is None:
                self.client.delete(
                    name, points_selector=models.PointIdsList(points=[doc_point_id(doc_id)])
                )

    def upsert_chunks(
        self,
        name: str,
        chunks: Sequence[Chunk],
        dense: Sequence[Vector],
        sparse: Sequence[tuple[list[int], list[float]]],
    ) -> None:
        points = [
            models.PointStruct(
                id=chunk_point_id(c.doc_id, c.content_hash, c.index),
                vector={DENSE: list(d), SPARSE: models.SparseVector(indices=s[0], values=s[1])},
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
        for start in range(0, len(points), 256):
            with self.lock:
                self.client.upsert(name, points[start : start + 256], wait=True)

    def count_chunks(self, name: str) -> int:
        with self.lock:
            return self.client.count(
                name, count_filter=models.Filter(must=[_match("kind", "chunk")]), exact=True
            ).count

    # --- search ------------------------------------------------------------------------
    def search(
        self,
        name: str,
        *,
        dense: Vector,
        sparse: tuple[list[int], list[float]],
        scopes: Sequence[str] | None,
        limit: int,
        min_dense: float | None,
        min_sparse: float | None,
    ) -> list[models.ScoredPoint]:
        # Only chunk points have vectors, so no `kind` filter is needed (it costs a payload scan
        # per query in local mode).
        must: list[models.Condition] = []
        if scopes is not None:
            must.append(
                models.FieldCondition(key="scopes", match=models.MatchAny(any=list(scopes)))
            )
        flt = models.Filter(must=must) if must else None
        depth = max(limit * 4, 20)
        prefetch = [
            models.Prefetch(
                query=dense, using=DENSE, filter=flt, limit=depth, score_threshold=min_dense
            )
        ]
        if sparse[0]:
            prefetch.append(
                models.Prefetch(
                    query=models.SparseVector(indices=sparse[0], values=sparse[1]),
                    using=SPARSE,
                    filter=flt,
                    limit=depth,
                    score_threshold=min_sparse,
                )
            )
        with self.lock:
            result = self.client.query_points(
                name,
                prefetch=prefetch,
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                limit=limit,
                with_payload=True,
            )
        points = [p for p in result.points if p.payload and p.payload.get("kind") == "chunk"]
        for point in points:
            point.score = point.score * RRF_K / 2
        return points
