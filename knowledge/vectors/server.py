"""`ServerStore`: qdrant-client, for a Qdrant server (QDRANT_URL) — or local mode in tests.

Collections are named `<alias>__…` and the alias `<alias>` names the active one; `activate`
swaps it in one `update_collection_aliases` call, which the server applies atomically. Calls are
serialised by a lock because qdrant-client's local mode (used by the contract tests) is not safe
across threads; against a server the lock only orders this process's own calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from knowledge.vectors.base import DENSE, INDEXED_FIELDS, SPARSE, Hit, HybridQuery, Point, Where

_SCROLL_PAGE = 1000
_UPSERT_BATCH = 256


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _filter(where: Where | None) -> models.Filter | None:
    if where is None:
        return None
    must: list[models.Condition] = [_match(k, v) for k, v in where.equal]
    if where.any_of is not None:
        key, values = where.any_of
        must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
    must_not: list[models.Condition] = [_match(k, v) for k, v in where.not_equal]
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)


def _vector(point: Point) -> dict[str, Any]:
    vector: dict[str, Any] = {}
    if point.dense is not None:
        vector[DENSE] = list(point.dense)
    if point.sparse is not None:
        vector[SPARSE] = models.SparseVector(indices=point.sparse[0], values=point.sparse[1])
    return vector


class ServerStore:
    def __init__(self, client: QdrantClient, *, alias: str, local: bool, where: str) -> None:
        self.client = client
        self.alias = alias
        self.local = local
        self.where = where
        self._lock = threading.RLock()

    # --- collections -------------------------------------------------------------------
    def active(self) -> str | None:
        with self._lock:
            for alias in self.client.get_aliases().aliases:
                if alias.alias_name == self.alias:
                    return alias.collection_name
        return None

    def names(self) -> list[str]:
        with self._lock:
            names = [c.name for c in self.client.get_collections().collections]
        return sorted(n for n in names if n.startswith(self.alias + "__"))

    def create(self, name: str, dimension: int) -> None:
        if not name.startswith(self.alias + "__"):
            raise ValueError(f"collection names start with {self.alias}__")
        with self._lock:
            self.client.create_collection(
                name,
                vectors_config={
                    DENSE: models.VectorParams(
                        size=dimension,
                        distance=models.Distance.COSINE,
                        datatype=models.Datatype.FLOAT16,  # as in edge.py, which says why
                    )
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            if not self.local:  # payload indexes are a no-op (with a warning) in local mode
                for field in INDEXED_FIELDS:
                    self.client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)

    def activate(self, name: str) -> str | None:
        with self._lock:
            if not self.client.collection_exists(name):
                raise ValueError(f"no collection {name}")
            previous = self.active()
            ops: list[models.AliasOperations] = []
            if previous is not None:
                ops.append(
                    models.DeleteAliasOperation(
                        delete_alias=models.DeleteAlias(alias_name=self.alias)
                    )
                )
            ops.append(
                models.CreateAliasOperation(
                    create_alias=models.CreateAlias(collection_name=name, alias_name=self.alias)
                )
            )
            self.client.update_collection_aliases(change_aliases_operations=ops)
        return previous

    def drop(self, name: str) -> None:
        with self._lock:
            if name == self.active():
                raise ValueError(f"cannot drop the active collection {name}")
            self.client.delete_collection(name)

    # --- points ------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[Point]) -> None:
        structs = [
            models.PointStruct(id=p.id, vector=_vector(p), payload=p.payload) for p in points
        ]
        for start in range(0, len(structs), _UPSERT_BATCH):
            with self._lock:
                self.client.upsert(name, structs[start : start + _UPSERT_BATCH], wait=True)

    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]:
        with self._lock:
            found = self.client.retrieve(name, ids=list(ids), with_payload=True)
        return [Hit(str(r.id), 0.0, dict(r.payload or {})) for r in found]

    def dense_vectors(self, name: str, ids: Sequence[str]) -> dict[str, list[float]]:
        with self._lock:
            found = self.client.retrieve(
                name, ids=list(ids), with_payload=False, with_vectors=[DENSE]
            )
        out: dict[str, list[float]] = {}
        for record in found:
            vector = record.vector.get(DENSE) if isinstance(record.vector, dict) else None
            if isinstance(vector, list) and all(isinstance(x, float | int) for x in vector):
                out[str(record.id)] = [float(x) for x in vector]  # type: ignore[arg-type]
        return out

    def scroll(self, name: str, where: Where) -> list[Hit]:
        out: list[Hit] = []
        offset: Any = None
        flt = _filter(where)
        while True:
            with self._lock:
                records, offset = self.client.scroll(
                    name, scroll_filter=flt, limit=_SCROLL_PAGE, offset=offset, with_payload=True
                )
            out.extend(Hit(str(r.id), 0.0, dict(r.payload or {})) for r in records)
            if offset is None:
                return out

    def set_payload(self, name: str, where: Where, payload: dict[str, Any]) -> None:
        flt = _filter(where)
        if flt is None:
            raise ValueError("set_payload needs a condition")
        with self._lock:
            self.client.set_payload(name, payload=payload, points=models.FilterSelector(filter=flt))

    def delete(self, name: str, *, where: Where | None = None, ids: Sequence[str] = ()) -> None:
        flt = _filter(where)
        with self._lock:
            if flt is not None:
                self.client.delete(name, points_selector=models.FilterSelector(filter=flt))
            if ids:
                self.client.delete(name, points_selector=models.PointIdsList(points=list(ids)))

    def count(self, name: str, where: Where) -> int:
        with self._lock:
            return self.client.count(name, count_filter=_filter(where), exact=True).count

    def hybrid(self, name: str, query: HybridQuery) -> list[Hit]:
        flt = _filter(query.where)
        prefetch = [
            models.Prefetch(
                query=list(query.dense),
                using=DENSE,
                filter=flt,
                limit=query.depth,
                score_threshold=query.min_dense,
            )
        ]
        if query.sparse[0]:
            prefetch.append(
                models.Prefetch(
                    query=models.SparseVector(indices=query.sparse[0], values=query.sparse[1]),
                    using=SPARSE,
                    filter=flt,
                    limit=query.depth,
                    score_threshold=query.min_sparse,
                )
            )
        with self._lock:
            result = self.client.query_points(
                name,
                prefetch=prefetch,
                query=models.RrfQuery(rrf=models.Rrf(k=query.rrf_k)),
                limit=query.limit,
                with_payload=True,
            )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in result.points]

    def close(self) -> None:
        with self._lock:
            self.client.close()
