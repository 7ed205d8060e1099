"""Whether the knowledge base has anything relevant: a calibrated signal, not a rank-fusion score.

How it works: hits are ordered by reciprocal rank fusion of the dense and sparse lists, whose score
(1.0 = first in both lists, about 0.5 = first in one) only says how a passage ranks against the
others — every query has a first hit, however unrelated. Whether to answer "not in the knowledge
base" is decided on a number with a fixed scale instead: the dense cosine between the query and
each returned passage (its stored vector, fetched by id, so no second search runs). The answer is
absent when the best cosine is below `KNOWLEDGE_MIN_SCORE`, unless the query names an identifier
(`E4711`, `parse_config`, `--ignore-case`) that a returned passage contains: an exact match of a
rare token is evidence the cosine does not see. The threshold is calibrated on the passage-level
benchmark (present and absent questions, benchmarks/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from knowledge.embedding.base import Vector
from knowledge.sparse import terms
from knowledge.store import Store
from knowledge.vectors import Hit as Found

_TOKEN = re.compile(r"-{0,2}[A-Za-z0-9_]+(?:[.\-:/][A-Za-z0-9_]+)*")
_CAMEL = re.compile(r"[a-z][A-Z]")


def identifiers(query: str) -> set[str]:
    """Tokens of `query` that look like names rather than words, lower-cased as the sparse index
    sees them: with a digit, an underscore, an inner `.-:/`, a camelCase hump, or a leading dash.
    Acronyms (`GPG`, `TCP`) are words here: they are asked about as topics, not looked up."""
    out: set[str] = set()
    for match in _TOKEN.finditer(query):
        raw = match.group()
        word = raw.lstrip("-")
        if not word:
            continue
        if (
            raw.startswith("-")
            or any(ch.isdigit() or ch in "_.-:/" for ch in word)
            or _CAMEL.search(word) is not None
        ):
            out.add(word.lower())
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    """A ranked search result with the scores behind it."""

    id: str
    payload: dict[str, object]
    fused: float
    """Rank-fusion score (ordering only)."""
    cosine: float
    """Dense cosine between the query and this passage (the relevance signal)."""


def cosines(store: Store, name: str, ids: Sequence[str], query: Vector) -> dict[str, float]:
    """Dense cosine of each stored chunk in `ids` with the (normalised) query vector."""
    if not ids:
        return {}
    q = np.asarray(query, dtype=np.float32)
    q /= max(float(np.linalg.norm(q)), 1e-12)
    out: dict[str, float] = {}
    for point_id, vector in store.vectors.dense_vectors(name, ids).items():
        v = np.asarray(vector, dtype=np.float32)
        out[point_id] = float(v @ q / max(float(np.linalg.norm(v)), 1e-12))
    return out


def score_hits(store: Store, name: str, points: Sequence[Found], query: Vector) -> list[Hit]:
    found = cosines(store, name, [str(p.id) for p in points], query)
    return [
        Hit(
            id=str(p.id),
            payload=dict(p.payload or {}),
            fused=float(p.score),
            cosine=found.get(str(p.id), 0.0),
        )
        for p in points
        if p.payload
    ]


def relevant(hits: Sequence[Hit], query: str, threshold: float | None) -> bool:
    """Whether `hits` answer `query` at all (see the module docstring)."""
    if not hits:
        return False
    if threshold is None or max(h.cosine for h in hits) >= threshold:
        return True
    names = identifiers(query)
    if not names:
        return False
    for hit in hits:
        text = " ".join(str(hit.payload.get(k, "")) for k in ("title", "section", "text"))
        if names & set(terms(text)):
            return True
    return False
