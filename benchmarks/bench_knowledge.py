"""Knowledge base benchmarks: embedding and `kb reindex` throughput against the previous embedder,
peak memory and time of a first index of ~3 MB of documentation, query latency at 10,000 and
100,000 chunks (against the previous store at 10,000), Recall@5, unchanged vs full reindex.

The corpora are generated from the running interpreter's stdlib (pydoc text and docstrings), so
they are real documentation that is not Parley's own text and needs no download. Everything runs
in temporary directories that are removed afterwards. The CPU is usually shared: throughput is
measured in interleaved rounds (previous embedder, new embedder, whole pipeline, in turn) and
reported as the median with the range.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import pydoc
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from bot.settings import Settings, load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.client import ClientHandle
from knowledge.documents import Chunk
from knowledge.embedding import Embedder, HashingEmbedder, Vector
from knowledge.embedding.fast_model import source_path
from knowledge.embedding.onnx import MAX_TOKENS, TOKENIZER_PATH, MiniLMEmbedder
from knowledge.indexer import IndexConfig
from knowledge.sparse import document_vector, query_vector
from knowledge.vectors.server import ServerStore

DATA = Path(__file__).parent / "data" / "knowledge_eval.json"
ROUNDS = 3
LATENCY_QUERIES = 100
OLD_STORE_QUERIES = 20
BULK_CHUNKS = 100_000
TEAM = "slack:T1:C1"
EVAL_MODULES = sorted({q["source"] for q in json.loads(DATA.read_text())["questions"]})
EXTRA_MODULES = (  # noqa: SIM905
    "os io socket ssl http.client http.server smtplib configparser inspect ast traceback warnings "
    "weakref operator codecs locale platform signal selectors concurrent.futures typing unittest "
    "doctest timeit email.message xml.etree.ElementTree html.parser array abc numbers mmap "
    "mailbox xml.dom.minidom urllib.request pdb imaplib optparse ftplib pstats pickle"
).split()
PIPELINE_MODULES = ("abc", "array", "csv", "datetime", "numbers", "traceback")
"""About 150 chunks: enough for steady throughput, few enough to repeat in rounds."""


class PlainTextDoc(pydoc.TextDoc):
    """pydoc's text without the overstrike bold: what the undocumented `pydoc.plaintext` is (the
    stubs leave it out, so it is spelled out here)."""

    def bold(self, text: str) -> str:
        return text


PLAIN_TEXT = PlainTextDoc()


def _module(name: str) -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def write_pydoc_corpus(root: Path, modules: list[str]) -> None:
    """Full pydoc text of each module (classes, methods, data), one .txt file per module."""
    root.mkdir(parents=True, exist_ok=True)
    for name in modules:
        text = pydoc.render_doc(_module(name), renderer=PLAIN_TEXT)
        (root / f"{name}.txt").write_text(text)


def write_docstring_corpus(root: Path, modules: list[str]) -> None:
    """Module docstring plus each public function/class docstring, one Markdown file per module."""
    root.mkdir(parents=True, exist_ok=True)
    for name in modules:
        module = _module(name)
        parts = [f"# {name}\n\n{inspect.cleandoc(module.__doc__ or '')}\n"]
        for attr in sorted(dir(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or not (
                inspect.isfunction(obj) or inspect.isclass(obj) or inspect.isbuiltin(obj)
            ):
                continue
            owner = getattr(obj, "__module__", "") or ""
            if owner.lstrip("_") != name and not owner.startswith(name + "."):
                continue
            doc = inspect.getdoc(obj)
            if doc:
                parts.append(f"## {name}.{attr}\n\n{doc}\n")
        (root / f"{name}.md").write_text("\n".join(parts))


def indexer_texts(root: Path) -> list[str]:
    """The texts the indexer embeds for the files under `root`: its own default configuration's
    chunking (`IndexConfig.pieces`), so the bare embedder runs on exactly what `kb reindex` does."""
    config = IndexConfig()
    texts = []
    for path in sorted(root.iterdir()):
        doc, pieces = config.pieces(path, path.read_bytes(), capped=False)
        for piece in pieces:
            chunk = Chunk(
                doc_id="",
                source="",
                title=doc.title,
                section=piece.path,
                index=0,
                text=piece.text,
                content_hash="",
                lead=piece.lead,
            )
            texts.append(chunk.embedding_text())
    return texts


def _copy_modules(corpus: Path, target: Path, modules: Sequence[str]) -> Path:
    target.mkdir()
    for name in modules:
        shutil.copy(corpus / f"{name}.txt", target / f"{name}.txt")
    return target


class PreviousEmbedder:
    """The embedder as it was before the fused graphs, kept here to measure against: the packaged
    int8 export as shipped (weights dequantised inside the graph), one session with up to four
    intra-op threads, batches of 32 sorted by characters, padded to the longest."""

    dimension = 384
    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(source_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            encodings = self._tokenizer.encode_batch([texts[i] or " " for i in batch])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self._session.run(None, feed)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            for i, vector in zip(batch, pooled, strict=True):
                out[i] = vector.tolist()
        return out


class IndexCheapQueryReal:
    """Indexes with a 384-dim hashing embedder (fast) but embeds queries with the real model.

    Search cost depends on the number of points and the dimension, not on the vector values, so
    this measures real query latency (model + hybrid search) at 10,000 chunks without spending
    most of the benchmark embedding the corpus.
    """

    dimension = 384

    def __init__(self, real: MiniLMEmbedder) -> None:
        self.cheap = HashingEmbedder(384)
        self.real = real
        self.name = real.name

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        return self.real.embed(texts) if len(texts) == 1 else self.cheap.embed(texts)


def _settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, embedding_model="all-MiniLM-L6-v2", **overrides)


async def _open(data_dir: Path, embedder: Embedder, **kw: Any) -> KnowledgeBase:
    scopes = kw.pop("scopes", "")
    settings = _settings(data_dir, knowledge_scopes=scopes)
    kb = await open_knowledge_base(settings, embedder=embedder, schedule=False, **kw)
    kb.config = replace(kb.config, batch_chunks=256)
    return kb


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


# --- ingest --------------------------------------------------------------------------------


async def bench_ingest(tmp: Path, corpus: Path, real: MiniLMEmbedder) -> dict[str, Any]:
    """Interleaved rounds: previous embedder, new embedder (bare), whole `kb reindex` pipeline,
    all on the same chunks (those the indexer makes of PIPELINE_FILES files)."""
    files = _copy_modules(corpus, tmp / "pipeline", PIPELINE_MODULES)
    texts = indexer_texts(files)
    previous = PreviousEmbedder()
    previous.embed(texts[:8])
    real.embed(texts[:16])
    rates: dict[str, list[float]] = {"previous": [], "new": [], "pipeline": [], "unchanged": []}
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        previous.embed(texts)
        rates["previous"].append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        real.embed(texts)
        rates["new"].append(len(texts) / (time.perf_counter() - started))
        kb = await _open(tmp / f"pipeline-index-{round_}", real)
        try:
            started = time.perf_counter()
            full = await kb.reindex_report([str(files)])
            full_s = time.perf_counter() - started
            assert full.chunks_written == len(texts) and not full.errors, full.render()
            rates["pipeline"].append(full.chunks_written / full_s)
            started = time.perf_counter()
            again = await kb.reindex_report([str(files)])
            rates["unchanged"].append(full_s / (time.perf_counter() - started))
            assert again.indexed == 0 and again.unchanged == full.indexed
        finally:
            await kb.close()
    return {"chunks": len(texts), "avg_chars": sum(map(len, texts)) / len(texts), **rates}


FIRST_INDEX = """
import asyncio, json, sys, time
from pathlib import Path
from bot.settings import load_settings
from knowledge import open_knowledge_base

async def main():
    settings = load_settings(data_dir=Path(sys.argv[1]), embedding_model="all-MiniLM-L6-v2",
                             model_cache_dir=Path(sys.argv[3]))
    kb = await open_knowledge_base(settings, schedule=False)
    started = time.perf_counter()
    report = await kb.reindex_report([sys.argv[2]])
    elapsed = time.perf_counter() - started
    await kb.close()
    status = Path("/proc/self/status").read_text()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
    print(json.dumps({"s": elapsed, "chunks": report.chunks_written, "docs": report.indexed,
                      "errors": len(report.errors), "peak_mb": peak_kb / 1024}))

asyncio.run(main())
"""


def bench_first_index(tmp: Path, corpus: Path, cache_dir: Path) -> dict[str, Any]:
    """`kb reindex` of the whole pydoc corpus into an empty index, in a process of its own so
    its peak resident memory is the reindex's alone (model, sessions, engine, Python). The peak
    is the child's own VmHWM: getrusage(RUSAGE_CHILDREN) would report this process's size, since
    a child's maxrss survives exec."""
    done = subprocess.run(
        [sys.executable, "-c", FIRST_INDEX, str(tmp / "first"), str(corpus), str(cache_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["mb"] = sum(p.stat().st_size for p in corpus.iterdir()) / 1e6
    return result


# --- queries -------------------------------------------------------------------------------


async def _latencies(kb: KnowledgeBase, questions: list[str], n: int) -> list[float]:
    await kb.retrieve(questions[0], scopes=["public"])  # warm up
    timings = []
    for i in range(n):
        started = time.perf_counter()
        await kb.retrieve(questions[i % len(questions)], scopes=["public"], limit=8)
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)


def _p(timings: list[float], q: float) -> float:
    return timings[max(0, int(len(timings) * q) - 1)] if q < 1 else timings[-1]


async def bench_query_10k(
    tmp: Path, corpus: Path, real: MiniLMEmbedder, questions: list[str]
) -> dict[str, Any]:
    """Copies of the pydoc corpus up to 10,000 chunks, one copy in a team's scope (so queries
    from a public channel need the scope filter), in the embedded engine and, on the same files,
    in the previous store (qdrant-client local mode)."""
    root = tmp / "big"
    copies = 0
    out: dict[str, Any] = {}
    cheap = IndexCheapQueryReal(real)
    scopes = f"{root / 'copy0'}={TEAM}"
    kb = await _open(tmp / "index-10k", cheap, min_score=0.0, scopes=scopes)
    try:
        chunks = 0
        while chunks < 10_000:
            shutil.copytree(corpus, root / f"copy{copies}")
            copies += 1
            report = await kb.reindex_report([str(root)])
            chunks = (await kb.info()).chunks
        out["chunks"] = chunks
        out["new"] = await _latencies(kb, questions, LATENCY_QUERIES)
    finally:
        await kb.close()
    from qdrant_client import QdrantClient

    local = tmp / "local-mode"
    client = QdrantClient(path=str(local), force_disable_check_same_thread=True)
    store = ServerStore(client, alias="parley_knowledge", local=True, where=str(local))
    handle = ClientHandle(store, "bench-local", True, str(local))
    settings = _settings(tmp / "index-local", knowledge_scopes=scopes)
    old = KnowledgeBase(
        settings, handle, cheap, config=replace(kb.config, batch_chunks=256), min_score=0.0
    )
    try:
        started = time.perf_counter()
        report = await old.reindex_report([str(root)])
        out["old_index_s"] = time.perf_counter() - started
        assert report.chunks_written == chunks
        out["old"] = await _latencies(old, questions, OLD_STORE_QUERIES)
    finally:
        store.close()
    return out


async def bench_query_100k(
    tmp: Path, corpus: Path, real: MiniLMEmbedder, questions: list[str]
) -> dict[str, Any]:
    """100,000 chunk points written straight into the embedded engine: real texts and their
    BM25 vectors (cycled), random unit dense vectors, a tenth of the documents in a team's
    scope; queries as above (real query embedding, hybrid, scope filter)."""
    texts = indexer_texts(corpus)
    sparse = [document_vector(t) for t in texts]
    rng = np.random.default_rng(7)
    kb = await _open(tmp / "index-100k", real, min_score=0.0)
    try:
        store = kb.store
        name = store.create(real.name, real.dimension)
        store.switch_alias(name)
        docs = 1000
        started = time.perf_counter()
        for doc in range(docs):
            doc_id = f"doc{doc}"
            scopes = [TEAM] if doc % 10 == 0 else ["public"]
            store.put_doc(name, {"doc_id": doc_id, "path": f"/bulk/{doc}", "scopes": scopes})
        per_doc = BULK_CHUNKS // docs
        for doc in range(docs):
            doc_id = f"doc{doc}"
            dense = rng.standard_normal((per_doc, 384)).astype(np.float32)
            dense /= np.linalg.norm(dense, axis=1, keepdims=True)
            chunks = [
                Chunk(
                    doc_id=doc_id,
                    source=f"/bulk/{doc}.txt",
                    title=f"Bulk {doc}",
                    section="",
                    index=i,
                    text=texts[(doc * per_doc + i) % len(texts)],
                    content_hash="bulk",
                    scopes=(TEAM,) if doc % 10 == 0 else ("public",),
                )
                for i in range(per_doc)
            ]
            picks = [sparse[(doc * per_doc + i) % len(texts)] for i in range(per_doc)]
            store.upsert_chunks(name, chunks, dense.tolist(), picks)
        write_s = time.perf_counter() - started
        assert store.count_chunks(name) == BULK_CHUNKS
        timings = await _latencies(kb, questions, LATENCY_QUERIES)
    finally:
        await kb.close()
    return {"chunks": BULK_CHUNKS, "write_s": write_s, "timings": timings}


# --- recall --------------------------------------------------------------------------------


def _top_sources(kb: KnowledgeBase, embedder: Any, query: str, mode: str) -> list[str]:
    """The files of the top 5 chunks by one side of the search, or both fused, with no relevance
    cut: this measures the ranking. (Dense only: no sparse query; sparse only: a dense threshold
    no cosine reaches.)"""
    name = kb.store.active()
    assert name is not None
    hits = kb.store.search(
        name,
        dense=embedder.embed([query])[0],
        sparse=([], []) if mode == "dense only" else query_vector(query),
        scopes=None,
        limit=5,
        min_dense=1.01 if mode == "sparse only" else None,
        min_sparse=None,
    )
    return [Path(str(h.payload.get("source", ""))).stem for h in hits]


async def bench_recall(tmp: Path, corpus: Path, embedder: Embedder, label: str) -> dict[str, float]:
    """Recall@5 of the file that answers each question, by ranking alone (hybrid, dense only,
    sparse only); then how many questions the answer path (`retrieve`, with its "nothing
    relevant" rule at KNOWLEDGE_MIN_SCORE) answers with the right file in its top 5."""
    questions = json.loads(DATA.read_text())["questions"]
    kb = await _open(tmp / f"recall-{label}", embedder)
    try:
        started = time.perf_counter()
        report = await kb.reindex_report([str(corpus)])
        results: dict[str, float] = {
            "questions": len(questions),
            "chunks": report.chunks_written,
            "index_s": time.perf_counter() - started,
        }
        for mode in ("hybrid", "dense only", "sparse only"):
            hits = sum(
                item["source"] in _top_sources(kb, embedder, item["q"], mode) for item in questions
            )
            results[mode] = hits / len(questions)
        answered = 0
        for item in questions:
            passages = await kb.retrieve(item["q"], scopes=["public"], limit=5)
            answered += item["source"] in [Path(p.source).stem for p in passages]
        results["answered"] = answered / len(questions)
        results["min_score"] = kb.min_score if kb.min_score is not None else float("nan")
    finally:
        await kb.close()
    return results


async def run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="parley-bench-kb-"))
    try:
        cache = tmp / "models"
        started = time.perf_counter()
        real = MiniLMEmbedder(cache_dir=cache)
        print(f"fast graphs built in {time.perf_counter() - started:.1f}s (once, then cached)")
        big_corpus = tmp / "pydoc"
        write_pydoc_corpus(big_corpus, EVAL_MODULES + EXTRA_MODULES)
        questions = [q["q"] for q in json.loads(DATA.read_text())["questions"]]
        print(
            "CPU shared with other work: throughput in interleaved rounds, median (range)",
            flush=True,
        )

        t = await bench_ingest(tmp, big_corpus, real)
        print(
            f"ingest, {t['chunks']} chunks of ~{t['avg_chars']:.0f} chars, {ROUNDS} rounds "
            f"(chunks/s): previous embedder {_spread(t['previous'])}; new embedder "
            f"{_spread(t['new'])}; whole kb reindex {_spread(t['pipeline'])}",
            flush=True,
        )
        ratios = [p / o for p, o in zip(t["pipeline"], t["previous"], strict=True)]
        bare = [p / n for p, n in zip(t["pipeline"], t["new"], strict=True)]
        print(
            f"  kb reindex / previous embedder: {_spread(ratios)}x; kb reindex / new embedder "
            f"bare: {statistics.median(bare):.2f} ({min(bare):.2f}–{max(bare):.2f}); "
            f"unchanged reindex {_spread(t['unchanged'])}x faster than full",
            flush=True,
        )

        f = bench_first_index(tmp, big_corpus, cache)
        print(
            f"first index of {f['mb']:.1f} MB of plain text ({f['docs']} files, {f['chunks']} "
            f"chunks): {f['s']:.1f}s, {f['chunks'] / f['s']:.1f} chunks/s, peak RSS "
            f"{f['peak_mb']:.0f} MB, {f['errors']} errors",
            flush=True,
        )

        q = await bench_query_10k(tmp, big_corpus, real, questions)
        new, old = q["new"], q["old"]
        print(
            f"query at {q['chunks']} chunks (real query embedding + hybrid + scope filter): "
            f"embedded engine p50 {_p(new, 0.5):.1f} ms, p99 {_p(new, 0.99):.1f} ms "
            f"({len(new)} queries); previous store (local mode) p50 {_p(old, 0.5):.1f} ms, "
            f"p99 {_p(old, 0.99):.1f} ms ({len(old)} queries; its reindex "
            f"{q['old_index_s']:.1f}s)",
            flush=True,
        )

        b = await bench_query_100k(tmp, big_corpus, real, questions)
        timings = b["timings"]
        print(
            f"query at {b['chunks']:,} chunks (synthetic dense vectors, written in "
            f"{b['write_s']:.1f}s): p50 {_p(timings, 0.5):.1f} ms, p99 "
            f"{_p(timings, 0.99):.1f} ms ({len(timings)} queries)",
            flush=True,
        )

        eval_corpus = tmp / "docstrings"
        write_docstring_corpus(eval_corpus, EVAL_MODULES)
        for label, embedder in (("new", real), ("previous", PreviousEmbedder())):
            rec = await bench_recall(tmp, eval_corpus, embedder, label)
            print(
                f"Recall@5, {label} embedder, {rec['questions']:.0f} questions "
                f"({rec['chunks']:.0f} chunks, indexed in {rec['index_s']:.1f}s): hybrid "
                f"{rec['hybrid']:.2f}, dense only {rec['dense only']:.2f}, sparse only "
                f"{rec['sparse only']:.2f}; answered with the right file in the top 5 (relevance "
                f"rule at {rec['min_score']:.2f}): {rec['answered']:.2f}",
                flush=True,
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
