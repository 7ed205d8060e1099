"""BM25-style sparse vectors for Qdrant's `Modifier.IDF`.

How it works: text is cut into lower-cased terms; identifiers are kept whole *and* split into their
parts (`parse_config` → `parse_config`, `parse`, `config`; `ERR-1042` → `err-1042`, `err`, `1042`;
`parseConfig` → `parseconfig`, `parse`, `config`), so an exact error code or function name is a
single rare term. English stop words are dropped and a light plural stemmer folds `documents` into
`document`. A term's index is its CRC-32 (stable across processes and machines). A document's
value for a term is BM25's saturated term frequency with length normalisation
`tf·(k1+1) / (tf + k1·(1−b+b·len/avg_len))`; a query's value is 1 per distinct term. Qdrant
multiplies by the collection's IDF at query time (`Modifier.IDF`), which completes BM25.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

K1 = 1.2
B = 0.75
AVG_LEN = 120.0
"""Typical number of terms in a 1,000-character chunk."""

_TOKEN = re.compile(r"[A-Za-z0-9_]+(?:[.\-:/][A-Za-z0-9_]+)*")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MAX_TERM = 64
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves
    """.split()  # noqa: SIM905
)


def _stem(term: str) -> str:
    if not term.isalpha() or len(term) <= 3:
        return term
    if term.endswith("ies") and len(term) > 4:
        return term[:-3] + "y"
    if term.endswith("sses"):
        return term[:-2]
    if term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def terms(text: str) -> list[str]:
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        raw = match.group()
        if len(raw) > _MAX_TERM:
            continue
        whole = raw.lower()
        parts = [p.lower() for p in _PARTS.findall(raw)]
        if len(parts) <= 1 and whole.isalnum():
            if whole not in STOP_WORDS:
                out.append(_stem(whole))
            continue
        out.append(whole)
        out.extend(_stem(p) for p in parts if p not in STOP_WORDS and (len(p) > 1 or p.isdigit()))
    return out


def term_index(term: str) -> int:
    return zlib.crc32(term.encode("utf-8"))


def _fold(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def document_vector(text: str) -> tuple[list[int], list[float]]:
    counts = Counter(terms(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVG_LEN)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        index = term_index(term)
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1) / (tf + norm)
    return _fold(weights)


def query_vector(text: str) -> tuple[list[int], list[float]]:
    return _fold({term_index(term): 1.0 for term in set(terms(text))})
