"""The Embedder protocol: one method, `embed`, batched inside."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Vector = list[float]


class Embedder(Protocol):
    name: str
    """Model id stored with the collection; a different name means a different vector space."""
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One unit-length vector per text, in order. Synchronous: call it from a worker thread."""
        ...
