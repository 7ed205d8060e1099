"""Knowledge base benchmarks: embedding throughput, full vs unchanged reindex, query latency at
10,000 chunks, and Recall@5 on questions over Python's own standard-library documentation.

The corpora are generated from the running interpreter's stdlib (pydoc text and docstrings), so
they are real documentation that is not Parley's own text and needs no download. Everything runs
in a temporary DATA_DIR (Qdrant local mode) that is removed afterwards.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import pydoc
import shutil
import statistics
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

from bot.settings import load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.chunking import ChunkConfig, split_section
from knowledge.embedding import HashingEmbedder
from knowledge.embedding.onnx import MiniLMEmbedder

DATA = Path(__file__).parent / "data" / "knowledge_eval.json"
LATENCY_QUERIES = 100
EVAL_MODULES = sorted({q["source"] for q in json.loads(DATA.read_text())["questions"]})
EXTRA_MODULES = (  # noqa: SIM905
    "os io socket ssl http.client http.server smtplib configparser inspect ast traceback warnings "
    "weakref operator codecs locale platform signal selectors concurrent.futures typing unittest "
    "doctest timeit email.message xml.etree.ElementTree html.parser array abc numbers mmap"
).split()


def _module(name: str):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return importlib.import_module(name)


def write_pydoc_corpus(root: Path, modules: list[str]) -> None:
    """Full pydoc text of each module (classes, methods, data), one .txt file per module."""
    root.mkdir(parents=True, exist_ok=True)
    for name in modules:
        text = pydoc.render_doc(_module(name), renderer=pydoc.plaintext)
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


class IndexCheapQueryReal:
    """Indexes with a 384-dim hashing embedder (fast) but embeds queries with the real model.

    Search cost depends on the number of points and the dimension, not on the vector values, so
    this measures real query latency (model + hybrid search) at 10,000 chunks without spending
    most of the benchmark embedding the corpus.
    """

    name = "bench-hashing-384"
    dimension = 384

    def __init__(self, real: MiniLMEmbedder) -> None:
        self.cheap = HashingEmbedder(384)
        self.real = real

    def embed(self, texts):  # type: ignore[no-untyped-def]
        return self.real.embed(texts) if len(texts) == 1 else self.cheap.embed(texts)


async def _open(data_dir: Path, embedder, **kw) -> KnowledgeBase:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=data_dir, embedding_model="all-MiniLM-L6-v2")
    kb = await open_knowledge_base(settings, embedder=embedder, schedule=False, **kw)
    kb.config = replace(kb.config, batch_chunks=256)
    return kb


def bench_throughput(real: MiniLMEmbedder, corpus: Path) -> dict[str, float]:
    chunks: list[str] = []
    for path in sorted(corpus.glob("*.txt")):
        chunks.extend(split_section(path.read_text(), ChunkConfig()))
        if len(chunks) >= 96:
            break
    chunks = chunks[:96]
    real.embed(chunks[:4])  # warm up
    started = time.perf_counter()
    real.embed(chunks)
    elapsed = time.perf_counter() - started
    return {
        "chunks": len(chunks),
        "avg_chars": sum(map(len, chunks)) / len(chunks),
        "chunks_per_s": len(chunks) / elapsed,
    }


async def bench_reindex_and_latency(
    tmp: Path, corpus: Path, real: MiniLMEmbedder, questions: list[str]
) -> dict[str, float]:
    """Full vs unchanged reindex of `corpus`, then copies of it up to 10,000 chunks and queries."""
    kb = await _open(tmp / "index", IndexCheapQueryReal(real), min_score=0.0)
    try:
        root = tmp / "big"
        shutil.copytree(corpus, root / "copy0")
        started = time.perf_counter()
        full = await kb.reindex_report([str(root)])
        full_s = time.perf_counter() - started
        started = time.perf_counter()
        again = await kb.reindex_report([str(root)])
        unchanged_s = time.perf_counter() - started
        assert again.indexed == 0 and again.unchanged == full.indexed and not full.errors
        out = {
            "documents": full.indexed,
            "chunks": full.chunks_written,
            "full_s": full_s,
            "unchanged_s": unchanged_s,
            "speedup": full_s / unchanged_s,
        }
        copies, chunks = 1, full.chunks_written
        while chunks < 10_000:
            shutil.copytree(corpus, root / f"copy{copies}")
            copies += 1
            await kb.reindex_report([str(root)])
            chunks = (await kb.info()).chunks
        await kb.retrieve(questions[0], scopes=["public"])  # warm up
        timings = []
        for i in range(LATENCY_QUERIES):
            started = time.perf_counter()
            await kb.retrieve(questions[i % len(questions)], scopes=["public"], limit=8)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await kb.close()
    timings.sort()
    out.update(
        latency_chunks=chunks,
        queries=len(timings),
        p50_ms=statistics.median(timings),
        p99_ms=timings[max(0, int(len(timings) * 0.99) - 1)],
    )
    return out


async def bench_recall(tmp: Path, corpus: Path, real: MiniLMEmbedder) -> dict[str, float]:
    questions = json.loads(DATA.read_text())["questions"]
    kb = await _open(tmp / "recall", real)
    try:
        started = time.perf_counter()
        report = await kb.reindex_report([str(corpus)])
        index_s = time.perf_counter() - started
        results: dict[str, float] = {
            "questions": len(questions),
            "chunks": report.chunks_written,
            "index_s": index_s,
        }
        modes = {
            "hybrid": (kb.min_score, kb.sparse_ratio),
            "dense only": (kb.min_score, 1e9),
            "sparse only": (1.01, kb.sparse_ratio),
        }
        for mode, (min_score, ratio) in modes.items():
            kb.min_score, kb.sparse_ratio = min_score, ratio
            hits = 0
            misses = []
            for item in questions:
                found = [
                    Path(p.source).stem
                    for p in await kb.retrieve(item["q"], scopes=["public"], limit=5)
                ]
                if item["source"] in found:
                    hits += 1
                elif mode == "hybrid":
                    misses.append(f"{item['q']!r} -> {found[:3]}")
            results[f"recall@5 {mode}"] = hits / len(questions)
            if mode == "hybrid":
                for miss in misses:
                    print(f"  miss: {miss}")
    finally:
        await kb.close()
    return results


async def run() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="parley-bench-kb-"))
    try:
        real = MiniLMEmbedder()
        big_corpus = tmp / "pydoc"
        write_pydoc_corpus(big_corpus, EVAL_MODULES + EXTRA_MODULES)
        questions = [q["q"] for q in json.loads(DATA.read_text())["questions"]]

        t = bench_throughput(real, big_corpus)
        print(
            f"embedding throughput (all-MiniLM-L6-v2 int8, {t['chunks']:.0f} chunks of "
            f"~{t['avg_chars']:.0f} chars): {t['chunks_per_s']:.1f} chunks/s",
            flush=True,
        )

        r = await bench_reindex_and_latency(tmp, big_corpus, real, questions)
        print(
            f"reindex {r['documents']:.0f} docs / {r['chunks']:.0f} chunks (hashing embedder, "
            f"Qdrant local mode): full {r['full_s']:.2f}s, unchanged {r['unchanged_s']:.3f}s "
            f"({r['speedup']:.0f}x faster)",
            flush=True,
        )
        embed_s = r["chunks"] / t["chunks_per_s"]
        print(
            f"  with the real model the full run would add ~{embed_s:.0f}s of embedding "
            f"(~{(r['full_s'] + embed_s) / r['unchanged_s']:.0f}x)",
            flush=True,
        )
        print(
            f"query latency at {r['latency_chunks']:.0f} chunks (real query embedding + hybrid "
            f"search, Qdrant local mode, {r['queries']:.0f} queries): p50 {r['p50_ms']:.1f} ms, "
            f"p99 {r['p99_ms']:.1f} ms",
            flush=True,
        )

        eval_corpus = tmp / "docstrings"
        write_docstring_corpus(eval_corpus, EVAL_MODULES)
        rec = await bench_recall(tmp, eval_corpus, real)
        print(
            f"Recall@5 over {rec['questions']:.0f} questions ({rec['chunks']:.0f} chunks of "
            f"stdlib docstrings, indexed in {rec['index_s']:.1f}s): "
            f"hybrid {rec['recall@5 hybrid']:.2f}, dense only {rec['recall@5 dense only']:.2f}, "
            f"sparse only {rec['recall@5 sparse only']:.2f}",
            flush=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
