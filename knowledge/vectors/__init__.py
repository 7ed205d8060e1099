"""Vector stores behind one protocol: Qdrant's in-process engine (default) and qdrant-client."""

from knowledge.vectors.base import (
    DENSE,
    RRF_K,
    SPARSE,
    Hit,
    HybridQuery,
    Point,
    SparseVector,
    VectorStore,
    Where,
)

__all__ = [
    "DENSE",
    "RRF_K",
    "SPARSE",
    "Hit",
    "HybridQuery",
    "Point",
    "SparseVector",
    "VectorStore",
    "Where",
]
