"""Embedders: the packaged MiniLM (default), OpenAI, and a hashing embedder for tests."""

from __future__ import annotations

from bot.errors import ConfigError
from bot.settings import Settings
from knowledge.embedding.base import Embedder, Vector
from knowledge.embedding.hashing import HashingEmbedder

LOCAL_MODEL_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})


def make_embedder(model: str, settings: Settings) -> Embedder:
    """The embedder for `model` (EMBEDDING_MODEL); a ConfigError says how to fix a bad name."""
    name = model.strip()
    lowered = name.lower()
    if lowered.partition("@")[0] in LOCAL_MODEL_NAMES:  # "@…" names the build a collection used
        from knowledge.embedding.onnx import MiniLMEmbedder

        return MiniLMEmbedder(cache_dir=settings.models_dir)
    if lowered.startswith("hashing"):
        _, _, size = lowered.partition("-")
        return HashingEmbedder(int(size) if size.isdigit() else 256)
    if lowered.startswith("text-embedding-"):
        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ConfigError(
                f"EMBEDDING_MODEL={name} is an OpenAI model: set OPENAI_API_KEY "
                "(or OPENAI_BASE_URL), or use EMBEDDING_MODEL=all-MiniLM-L6-v2"
            )
        from knowledge.embedding.openai import OpenAIEmbedder

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        return OpenAIEmbedder(
            name, api_key=key, base_url=settings.openai_base_url, timeout_s=settings.llm_timeout_s
        )
    raise ConfigError(
        f"EMBEDDING_MODEL={name!r} is not known; use all-MiniLM-L6-v2 (packaged, "
        "default), text-embedding-3-small / -large (needs OPENAI_API_KEY) or hashing"
    )


__all__ = ["Embedder", "HashingEmbedder", "Vector", "make_embedder"]
