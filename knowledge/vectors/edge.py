"""`EdgeStore`: Qdrant's in-process engine (qdrant-edge) as the embedded vector store.

How it works: the engine has no collections or aliases; it opens one shard per directory. So a
collection is a directory `collections/<name>/` under the store's root, and the alias is the
pointer file `ACTIVE` (knowledge/vectors/pointer.py): switching writes the new name with an
atomic rename, so a crash leaves either the old collection live or the new one, never neither.
Dropping a collection first renames its directory into `trash/` (atomic) and then deletes it, so
a crash half-way through a delete leaves no half collection under `collections/`; whatever is in
`trash/` is removed on the next open. Shards are opened on first use and kept open.

The engine, like Qdrant local mode, allows one opener per directory: a second process fails on the
shard's write-ahead-log lock. The root also takes an advisory lock (`LOCK`), so two processes
cannot both start a first index in an empty store. Both cases raise KnowledgeUnavailable with
what to do. Calls into a shard need no lock of ours: the engine is safe across threads.

Dense vectors are stored as float16 (half the bytes of float32; a collection made before keeps its
float32): they are unit vectors whose cosines only rank passages and feed the relevance threshold,
and the rounding (to about three significant digits) moves a cosine by less than 1e-4, far below
the gaps that decide either. On the retrieval benchmark it brings the index of the structure-aware
chunks (more, smaller chunks) to within 1.04-1.11x of the previous chunker's index as it was stored
before (benchmarks/README.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, cast

import qdrant_edge as qe

from knowledge.errors import KnowledgeUnavailable
from knowledge.vectors.base import DENSE, INDEXED_FIELDS, SPARSE, Hit, HybridQuery, Point, Where
from knowledge.vectors.pointer import fsync_dir, read_pointer, write_pointer

try:
    import fcntl
except ImportError:  # Windows: the shards' own WAL locks still refuse a second opener
    fcntl = None  # type: ignore[assignment]

_SCROLL_PAGE = 1000
DENSE_DATATYPE = qe.VectorStorageDatatype.Float16
"""How new collections store dense vectors (see the module docstring)."""
IN_USE = (
    "The knowledge index at {path} is in use by another Parley process (the running bot?). Stop "
    "it first, or run a Qdrant server and set QDRANT_URL to share one index."
)


def _filter(where: Where | None) -> qe.Filter | None:
    if where is None:
        return None
    must: list[Any] = [
        qe.FieldCondition(key=key, match=qe.MatchValue(value)) for key, value in where.equal
    ]
    if where.any_of is not None:
        key, values = where.any_of
        must.append(qe.FieldCondition(key=key, match=qe.MatchAny(any=list(values))))
    must_not: list[Any] = [
        qe.FieldCondition(key=key, match=qe.MatchValue(value)) for key, value in where.not_equal
    ]
    if not must and not must_not:
        return None
    return qe.Filter(must=must or None, must_not=must_not or None)


def _dense_of(vector: Any) -> Any:
    """A record's dense vector, whether the engine returns a named map or a single vector."""
    if isinstance(vector, dict):
        return vector.get(DENSE)
    return vector if isinstance(vector, list) and vector else None


def _hit(record: Any, score: float = 0.0) -> Hit:
    return Hit(str(record.id), score, dict(record.payload or {}))


def _vector(point: Point) -> dict[str, Any]:
    vector: dict[str, Any] = {}
    if point.dense is not None:
        vector[DENSE] = list(point.dense)
    if point.sparse is not None:
        vector[SPARSE] = qe.SparseVector(point.sparse[0], point.sparse[1])
    return vector


class EdgeStore:
    local = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = str(root)
        self._collections = root / "collections"
        self._trash = root / "trash"
        self._pointer = root / "ACTIVE"
        self._shards: dict[str, qe.EdgeShard] = {}
        self._open_lock = threading.Lock()
        self._collections.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_root_lock()
        shutil.rmtree(self._trash, ignore_errors=True)
        try:
            active = self.active()
            if active is not None:
                self._shard(active)  # fail now, clearly, if another process holds it
        except BaseException:
            self.close()
            raise

    def _take_root_lock(self) -> IO[str] | None:
        if fcntl is None:
            return None
        handle = open(self.root / "LOCK", "a")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise KnowledgeUnavailable(IN_USE.format(path=self.root)) from exc
        return handle

    def _shard(self, name: str) -> qe.EdgeShard:
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._open_lock:
            shard = self._shards.get(name)
            if shard is None:
                path = self._collections / name
                if not path.is_dir():
                    raise KnowledgeUnavailable(
                        f"Knowledge collection {name} is missing from {self.root}; run "
                        "`python -m bot kb reindex` to rebuild the index."
                    )
                try:
                    shard = qe.EdgeShard.load(str(path))
                except Exception as exc:
                    if "WouldBlock" in str(exc):
                        raise KnowledgeUnavailable(IN_USE.format(path=self.root)) from exc
                    raise
                self._shards[name] = shard
        return shard

    # --- collections -------------------------------------------------------------------
    def active(self) -> str | None:
        return read_pointer(self._pointer)

    def names(self) -> list[str]:
        return sorted(p.name for p in self._collections.iterdir() if p.is_dir())

    def create(self, name: str, dimension: int) -> None:
        config = qe.EdgeConfig(
            vectors={
                DENSE: qe.EdgeVectorParams(
                    size=dimension,
                    distance=qe.Distance.Cosine,
                    datatype=DENSE_DATATYPE,
                )
            },
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        with self._open_lock:
            shard = qe.EdgeShard.create(str(self._collections / name), config)
            self._shards[name] = shard
        fsync_dir(self._collections)
        for field in INDEXED_FIELDS:
            shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))

    def activate(self, name: str) -> str | None:
        self._shard(name)  # only an existing collection can become live
        previous = self.active()
        write_pointer(self._pointer, name)
        return previous

    def drop(self, name: str) -> None:
        if name == self.active():
            raise ValueError(f"cannot drop the active collection {name}")
        with self._open_lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
        path = self._collections / name
        if not path.exists():
            return
        self._trash.mkdir(exist_ok=True)
        doomed = self._trash / f"{name}.{uuid.uuid4().hex[:8]}"
        os.replace(path, doomed)
        fsync_dir(self._collections)
        shutil.rmtree(doomed, ignore_errors=True)

    # --- points ------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[Point]) -> None:
        if points:
            edge_points = [qe.Point(p.id, _vector(p), p.payload) for p in points]
            self._shard(name).update(qe.UpdateOperation.upsert_points(edge_points))

    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]:
        return [_hit(r) for r in self._shard(name).retrieve(list(ids), True, False)]

    def dense_vectors(self, name: str, ids: Sequence[str]) -> dict[str, list[float]]:
        records = self._shard(name).retrieve(list(ids), False, True)
        return {str(r.id): list(v) for r in records if (v := _dense_of(r.vector)) is not None}

    def scroll(self, name: str, where: Where) -> list[Hit]:
        shard, flt = self._shard(name), _filter(where)
        out: list[Hit] = []
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=_SCROLL_PAGE,
                    filter=flt,
                    with_payload=True,
                    with_vector=False,
                )
            )
            out.extend(_hit(r) for r in records)
            if offset is None:
                return out

    def set_payload(self, name: str, where: Where, payload: dict[str, Any]) -> None:
        flt = _filter(where)
        if flt is None:
            raise ValueError("set_payload needs a condition")
        self._shard(name).update(qe.UpdateOperation.set_payload_by_filter(flt, payload))

    def delete(self, name: str, *, where: Where | None = None, ids: Sequence[str] = ()) -> None:
        shard = self._shard(name)
        flt = _filter(where)
        if flt is not None:
            shard.update(qe.UpdateOperation.delete_points_by_filter(flt))
        if ids:
            shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def count(self, name: str, where: Where) -> int:
        return self._shard(name).count(qe.CountRequest(exact=True, filter=_filter(where)))

    def hybrid(self, name: str, query: HybridQuery) -> list[Hit]:
        flt = _filter(query.where)
        prefetches = [
            qe.Prefetch(
                limit=query.depth,
                query=qe.Query.Nearest(list(query.dense), using=DENSE),
                filter=flt,
                score_threshold=query.min_dense,
            )
        ]
        if query.sparse[0]:
            prefetches.append(
                qe.Prefetch(
                    limit=query.depth,
                    query=qe.Query.Nearest(
                        qe.SparseVector(query.sparse[0], query.sparse[1]), using=SPARSE
                    ),
                    filter=flt,
                    score_threshold=query.min_sparse,
                )
            )
        points = self._shard(name).query(
            qe.QueryRequest(
                limit=query.limit,
                prefetches=prefetches,
                query=cast(Any, qe.Fusion.Rrf(k=query.rrf_k)),  # the stub omits Rrf
                with_payload=True,
                with_vector=False,
            )
        )
        return [_hit(p, float(p.score)) for p in points]

    def close(self) -> None:
        with self._open_lock:
            shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            with contextlib.suppress(Exception):
                shard.flush()
            shard.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
