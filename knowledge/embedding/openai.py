"""OpenAI (or OpenAI-compatible) embeddings, batched, for EMBEDDING_MODEL=text-embedding-*."""

from __future__ import annotations

import math
from collections.abc import Sequence

from knowledge.embedding.base import Vector

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class OpenAIEmbedder:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        batch_size: int = 256,
        dimension: int | None = None,
    ) -> None:
        from openai import OpenAI

        self.name = model
        self.batch_size = batch_size
        self._client = OpenAI(
            api_key=api_key or "unused", base_url=base_url, timeout=timeout_s, max_retries=3
        )
        self.dimension = dimension or KNOWN_DIMENSIONS.get(model) or len(self.embed(["probe"])[0])

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        out: list[Vector] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start : start + self.batch_size]]
            response = self._client.embeddings.create(model=self.name, input=batch)
            for item in sorted(response.data, key=lambda d: d.index):
                vector = list(item.embedding)
                norm = math.sqrt(sum(v * v for v in vector)) or 1.0
                out.append([v / norm for v in vector])
        return out
