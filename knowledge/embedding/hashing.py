"""A deterministic feature-hashing embedder: fast, dependency-free, for tests and benchmarks.

Words and character trigrams are hashed (CRC-32) into `dimension` buckets with a hashed sign, then
the vector is L2-normalised. Texts that share words are close; paraphrases are not.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

from knowledge.embedding.base import Vector

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.name = f"hashing-{dimension}"
        self.calls = 0
        self.texts_embedded = 0

    def _features(self, text: str) -> list[str]:
        words = [w.lower() for w in _WORD.findall(text)]
        grams = [w[i : i + 3] for w in words if len(w) > 3 for i in range(len(w) - 2)]
        return words + [f"#{g}" for g in grams]

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        self.texts_embedded += len(texts)
        out: list[Vector] = []
        for text in texts:
            vec = [0.0] * self.dimension
            for feature in self._features(text):
                h = zlib.crc32(feature.encode("utf-8"))
                vec[h % self.dimension] += 1.0 if (h >> 31) & 1 else -1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out
