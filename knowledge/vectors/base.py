"""The vector-store protocol: what the knowledge base needs from Qdrant, and nothing more.

Two implementations keep the same contract (tests/knowledge/test_vector_store_contract.py runs one
suite against both): `EdgeStore`, Qdrant's in-process engine, for the embedded default, and
`ServerStore`, qdrant-client, for a Qdrant server (QDRANT_URL). A store holds named collections,
one of which is *active* (the one queries read); `activate` switches it atomically. Each
collection holds points with an optional dense vector `dense` (cosine), an optional sparse vector
`bm25` (Qdrant applies the IDF modifier) and a JSON payload; points without vectors carry
records. Filters are `Where` values, translated by each implementation into its own filter type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DENSE = "dense"
SPARSE = "bm25"
RRF_K = 60
INDEXED_FIELDS = ("kind", "doc_id", "scopes")
"""Keyword payload indexes every collection gets (the fields the knowledge base filters on)."""

SparseVector = tuple[list[int], list[float]]
"""Sorted term indices and their weights."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    id: str
    """A UUID string."""
    payload: dict[str, Any]
    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    """Fused score of a search; 0.0 for a point read by id or by scroll."""
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    """A conjunction of keyword conditions on payload fields."""

    equal: tuple[tuple[str, str], ...] = ()
    """Each field has this value."""
    not_equal: tuple[tuple[str, str], ...] = ()
    """No field has this value."""
    any_of: tuple[str, tuple[str, ...]] | None = None
    """The field (a keyword or a list of keywords) has one of these values."""

    @classmethod
    def eq(cls, **fields: str) -> Where:
        return cls(equal=tuple(fields.items()))


@dataclass(frozen=True, slots=True, kw_only=True)
class HybridQuery:
    dense: Sequence[float]
    sparse: SparseVector
    where: Where | None = None
    limit: int = 5
    depth: int = 20
    """How many candidates each of the dense and sparse searches contributes to the fusion."""
    min_dense: float | None = None
    min_sparse: float | None = None
    rrf_k: int = field(default=RRF_K)


class VectorStore(Protocol):
    local: bool
    """The index lives in this process (one opener per directory) rather than on a server."""
    where: str
    """Where the index lives, for messages."""

    def active(self) -> str | None:
        """The collection queries read, or None before the first index."""
        ...

    def names(self) -> list[str]:
        """Every collection, sorted."""
        ...

    def create(self, name: str, dimension: int) -> None: ...

    def activate(self, name: str) -> str | None:
        """Make `name` the active collection in one atomic step; return the previous one."""
        ...

    def drop(self, name: str) -> None: ...

    def upsert(self, name: str, points: Sequence[Point]) -> None: ...

    def retrieve(self, name: str, ids: Sequence[str]) -> list[Hit]: ...

    def dense_vectors(self, name: str, ids: Sequence[str]) -> dict[str, list[float]]:
        """The dense vector of each point in `ids` that has one."""
        ...

    def scroll(self, name: str, where: Where) -> list[Hit]:
        """Every point that matches, payload only."""
        ...

    def set_payload(self, name: str, where: Where, payload: dict[str, Any]) -> None: ...

    def delete(self, name: str, *, where: Where | None = None, ids: Sequence[str] = ()) -> None:
        """Delete the points that match `where` and the points `ids`."""
        ...

    def count(self, name: str, where: Where) -> int: ...

    def hybrid(self, name: str, query: HybridQuery) -> list[Hit]:
        """Dense and sparse searches (each thresholded and filtered), fused by RRF, best first."""
        ...

    def close(self) -> None: ...
