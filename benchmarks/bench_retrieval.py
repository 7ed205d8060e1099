"""Passage-level retrieval: does the top of the list hold the entry that answers the question?

Two sets of real reference text none of us wrote, both generated on the machine, nothing
downloaded (`benchmarks/data/retrieval_eval.json` lists the documents and the questions):
- the installed manual pages of 27 command-line tools (grep, tar, find, git-commit, ...) rendered
  to plain text by `man` at 80 columns: ALL-CAPS sections, indented subsections and option
  entries; 59 questions and 10 whose answer none of the pages has;
- pydoc's plain text of ten standard-library modules (textwrap, difflib, ipaddress, ...): class
  bodies behind ` |  ` rails with no blank line between entries; 30 questions.
Each question names its document and the entry (an option's term line, a function signature, or a
section title) that answers it; the absent questions ask about things none of the pages covers. A hit at rank k is a passage from
the right page that holds the entry: one of its lines starts with the entry's term, or the term is
part of its heading path.

Both chunkers index the same files in the same run with the real model (all-MiniLM-L6-v2): the
structure-aware one and the previous one (`IndexConfig.legacy_chunking`), so the numbers compare
like with like. Reported: passage R@1, R@5, MRR@5, file-level R@5, how many absent questions get
"nothing relevant" (and how many present ones wrongly do), each index's chunk count, size on disk
and reindex time; then file-level R@5 on the existing stdlib set (knowledge_eval.json) for both.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import pydoc
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.bench_knowledge import DATA as STDLIB_EVAL
from benchmarks.bench_knowledge import EVAL_MODULES, write_docstring_corpus
from bot.settings import load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.embedding import HashingEmbedder
from knowledge.embedding.base import Vector
from knowledge.embedding.onnx import MiniLMEmbedder
from knowledge.relevance import Hit, relevant
from knowledge.sparse import query_vector

DATA = Path(__file__).parent / "data" / "retrieval_eval.json"
MODES = ("legacy", "structured")
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5)
"""KNOWLEDGE_MIN_SCORE values the calibration line reports refusals for."""
_OVERSTRIKE = re.compile(r".\x08")


def render_man_pages(root: Path, pages: Sequence[str]) -> list[str]:
    """Each page as `<name>.txt`; returns the pages that could not be rendered."""
    if shutil.which("man") is None:
        raise RuntimeError(
            "this benchmark needs `man` and the manual pages (apt-get install man-db)"
        )
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat", "LC_ALL": "C.UTF-8"}
    missing = []
    for page in pages:
        done = subprocess.run(["man", page], capture_output=True, env=env, check=False)
        text = _OVERSTRIKE.sub("", done.stdout.decode("utf-8", "replace"))
        if done.returncode != 0 or not text.strip():
            missing.append(page)
            continue
        (root / f"{page}.txt").write_text(text)
    return missing


def _norm(text: str) -> str:
    return " ".join(text.split())


def holds(entry: str, section: str, text: str) -> bool:
    """Whether a passage holds `entry`: a line of it starts with the term, or its path names it."""
    term = _norm(entry)
    if any(_norm(h) == term or _norm(h).startswith(term + " ") for h in section.split(" > ")):
        return True
    for line in text.split("\n"):
        line = _norm(line.lstrip(" |"))  # legacy chunks keep pydoc's ` |  ` rails
        if line == term or line.startswith(term + " "):
            return True
    return False


class CountingEmbedder:
    """The real model, counting the tokens it is given (after its 256-token cut): the embedding
    work of an index, independent of how busy the machine is."""

    def __init__(self, real: MiniLMEmbedder) -> None:
        self.real = real
        self.name = real.name
        self.dimension = real.dimension
        self.tokens = 0

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        encodings = self.real._tokenizer.encode_batch(list(texts))
        self.tokens += sum(sum(e.attention_mask) for e in encodings)  # not the padding
        return self.real.embed(texts)


class CachedEmbedder:
    """The real model with a per-run cache: identical texts of the two indexes embed once."""

    def __init__(self, real: MiniLMEmbedder) -> None:
        self.real = real
        self.name = real.name
        self.dimension = real.dimension
        self.cache: dict[str, Vector] = {}

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            self.cache.update(zip(todo, self.real.embed(todo), strict=True))
        return [self.cache[t] for t in texts]


@dataclass(frozen=True, slots=True)
class Outcome:
    passage_rank: int | None
    file_hit: bool
    best_cosine: float
    """Best dense cosine among the top 5, before the relevance cut."""
    refused: bool
    """The relevance cut says "nothing relevant" (at KNOWLEDGE_MIN_SCORE)."""
    refused_at: tuple[bool, ...]
    """The same at each of THRESHOLDS."""


async def _open(data_dir: Path, embedder: Any, *, legacy: bool) -> KnowledgeBase:
    settings = load_settings(data_dir=data_dir, embedding_model="all-MiniLM-L6-v2")
    kb = await open_knowledge_base(settings, embedder=embedder, schedule=False)
    kb.config = replace(kb.config, batch_chunks=256, legacy_chunking=legacy)
    return kb


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


async def _today_finds_something(kb: KnowledgeBase, query: str) -> bool:
    """The relevance rule before this change: any hit past the dense or the sparse threshold."""
    name = kb.store.active()
    assert name is not None
    served = kb._serving(name)
    points = await asyncio.to_thread(
        kb.store.search,
        name,
        dense=served.embedder.embed([query])[0],
        sparse=query_vector(query),
        scopes=None,
        limit=5,
        min_dense=0.3,
        min_sparse=kb.sparse_ratio * served.best_idf,
    )
    return bool(points)


async def _raw_hits(kb: KnowledgeBase, query: str) -> list[Hit]:
    """Top 5 with no relevance cut (the bench applies it itself, to see the cosines)."""
    threshold, kb.min_score = kb.min_score, None
    try:
        return await kb.search_hits(query, scopes=["public"], limit=5)
    finally:
        kb.min_score = threshold


async def evaluate(kb: KnowledgeBase, questions: list[dict[str, str]]) -> list[Outcome]:
    out = []
    for item in questions:
        hits = await _raw_hits(kb, item["q"])
        rank = None
        for i, hit in enumerate(hits, start=1):
            source = Path(str(hit.payload.get("source", ""))).stem
            section, text = str(hit.payload.get("section", "")), str(hit.payload.get("text", ""))
            if source == item["source"] and holds(item["entry"], section, text):
                rank = i
                break
        out.append(
            Outcome(
                passage_rank=rank,
                file_hit=any(
                    Path(str(h.payload.get("source", ""))).stem == item["source"] for h in hits
                ),
                best_cosine=max((h.cosine for h in hits), default=0.0),
                refused=not relevant(hits, item["q"], kb.min_score),
                refused_at=tuple(not relevant(hits, item["q"], t) for t in THRESHOLDS),
            )
        )
    return out


async def run_mode(
    data_dir: Path, mode: str, corpus: Path, real: MiniLMEmbedder, spec: dict[str, Any]
) -> dict[str, Any]:
    embedder = CountingEmbedder(real)
    kb = await _open(data_dir, embedder, legacy=mode == "legacy")
    try:
        started = time.perf_counter()
        report = await kb.reindex_report([str(corpus)])
        index_s = time.perf_counter() - started
        tokens = embedder.tokens
        assert not report.errors, report.errors
        present = await evaluate(kb, spec["questions"])
        absent = await evaluate(
            kb, [{**item, "source": "", "entry": "-"} for item in spec["absent"]]
        )
        today_absent = [not await _today_finds_something(kb, item["q"]) for item in spec["absent"]]
        misses = [
            f"{item['q']!r} ({item['source']} › {item['entry']})"
            for item, o in zip(spec["questions"], present, strict=True)
            if o.passage_rank is None
        ]
    finally:
        await kb.close()
    n = len(present)
    return {
        "chunks": report.chunks_written,
        "index_s": index_s,
        "tokens": tokens,
        "size": _size(data_dir),
        "r1": sum(o.passage_rank == 1 for o in present) / n,
        "r5": sum(o.passage_rank is not None for o in present) / n,
        "mrr": sum(1 / o.passage_rank for o in present if o.passage_rank) / n,
        "file_r5": sum(o.file_hit for o in present) / n,
        "absent_ok": sum(o.refused for o in absent),
        "absent_today_ok": sum(today_absent),
        "present_refused": sum(o.refused for o in present),
        "present_refused_at": [
            sum(o.refused_at[i] for o in present) for i in range(len(THRESHOLDS))
        ],
        "absent_refused_at": [sum(o.refused_at[i] for o in absent) for i in range(len(THRESHOLDS))],
        "present_cos": [o.best_cosine for o in present],
        "absent_cos": [o.best_cosine for o in absent],
        "misses": misses,
    }


async def stdlib_file_recall(tmp: Path, embedder: Any) -> dict[str, Any]:
    """File-level Recall@5 on the existing stdlib-docstring set, both chunkers (cached model), and
    how many of its questions (all answerable) the relevance cut refuses."""
    corpus = tmp / "docstrings"
    write_docstring_corpus(corpus, EVAL_MODULES)
    questions = json.loads(STDLIB_EVAL.read_text())["questions"]
    out = {}
    for mode in MODES:
        kb = await _open(tmp / f"stdlib-{mode}", embedder, legacy=mode == "legacy")
        try:
            await kb.reindex_report([str(corpus)])
            hits = refused = 0
            refused_at = [0] * len(THRESHOLDS)
            for item in questions:
                found = await _raw_hits(kb, item["q"])
                hits += item["source"] in [Path(str(h.payload["source"])).stem for h in found]
                refused += not relevant(found, item["q"], kb.min_score)
                for i, t in enumerate(THRESHOLDS):
                    refused_at[i] += not relevant(found, item["q"], t)
            out[mode] = hits / len(questions)
            out[f"{mode} refused"] = refused
            out[f"{mode} refused at"] = refused_at
        finally:
            await kb.close()
    return out


def _spread(values: list[float]) -> str:
    values = sorted(values)
    return f"min {values[0]:.2f}, median {statistics.median(values):.2f}, max {values[-1]:.2f}"


def write_pydoc_pages(root: Path, modules: Sequence[str]) -> list[str]:
    """pydoc's plain text of each module as `<name>.txt`; returns the modules it could not load."""
    root.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        (root / f"{name}.txt").write_text(pydoc.render_doc(module, renderer=pydoc.plaintext))
    return missing


async def reindex_without_model(tmp: Path, corpus: Path, rounds: int = 3) -> dict[str, float]:
    """Median full reindex per chunker with the hashing embedder (everything but the model:
    reading, outline, chunking, BM25, Qdrant writes), the two chunkers interleaved."""
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for r in range(rounds):
        for mode in MODES:
            kb = await _open(
                tmp / f"hashing-{mode}-{r}", HashingEmbedder(384), legacy=mode == "legacy"
            )
            try:
                started = time.perf_counter()
                await kb.reindex_report([str(corpus)])
                times[mode].append(time.perf_counter() - started)
            finally:
                await kb.close()
    return {mode: statistics.median(t) for mode, t in times.items()}


def _checked(corpus: Path, questions: list[dict[str, str]]) -> list[dict[str, str]]:
    """The questions whose entry is in this machine's copy of their document."""
    texts = {p.stem: p.read_text() for p in corpus.glob("*.txt")}
    kept = []
    for item in questions:
        text = texts.get(item["source"])
        if text is None or not holds(item["entry"], "", text):
            print(f"  skipped (entry not in this machine's document): {item['q']!r}")
            continue
        kept.append(item)
    return kept


_ROWS = [
    ("passage R@1", "r1", "{:.2f}"),
    ("passage R@5", "r5", "{:.2f}"),
    ("passage MRR@5", "mrr", "{:.2f}"),
    ("file R@5", "file_r5", "{:.2f}"),
    ("absent → nothing relevant", "absent_ok", "{:.0f}"),
    ("  same, the previous rule", "absent_today_ok", "{:.0f}"),
    ("present → nothing relevant", "present_refused", "{:.0f}"),
    ("chunks", "chunks", "{:.0f}"),
    ("index size (KiB)", "size", "{:.0f}"),
    ("tokens embedded (thousands)", "tokens", "{:.0f}"),
    ("reindex, real model (s)", "index_s", "{:.1f}"),
]


def _report(results: dict[str, dict[str, Any]], absent: int) -> None:
    print(f"{'':34}{'legacy':>10}{'structured':>12}")
    for label, key, fmt in _ROWS:
        if key.startswith("absent") and not absent:
            continue
        scale = {"size": 1 / 1024, "tokens": 1 / 1000}.get(key, 1)
        cells = [fmt.format(results[m][key] * scale) for m in MODES]
        print(f"{label:34}{cells[0]:>10}{cells[1]:>12}")
    structured, legacy = results["structured"], results["legacy"]
    print(
        f"structured/legacy: R@5 {structured['r5'] - legacy['r5']:+.2f}, chunks "
        f"{structured['chunks'] / legacy['chunks']:.2f}x, size "
        f"{structured['size'] / legacy['size']:.2f}x, tokens "
        f"{structured['tokens'] / legacy['tokens']:.2f}x, reindex "
        f"{structured['index_s'] / legacy['index_s']:.2f}x"
    )
    cosines = f"best cosine (structured), present: {_spread(structured['present_cos'])}"
    if absent:
        cosines += f"; absent: {_spread(structured['absent_cos'])}"
    print(f"{cosines}; KNOWLEDGE_MIN_SCORE {load_settings().knowledge_min_score}")
    calibration = ", ".join(
        f"{t}: {p}/{len(structured['present_cos'])}" + (f" and {a}/{absent}" if absent else "")
        for t, p, a in zip(
            THRESHOLDS,
            structured["present_refused_at"],
            structured["absent_refused_at"],
            strict=True,
        )
    )
    what = "answerable" + (" and unanswerable" if absent else "")
    print(f"refused (structured) {what} at KNOWLEDGE_MIN_SCORE = {calibration}")
    for miss in structured["misses"]:
        print(f"  structured miss: {miss}")


async def run() -> None:
    spec = json.loads(DATA.read_text())
    tmp = Path(tempfile.mkdtemp(prefix="parley-bench-retrieval-"))
    try:
        real = MiniLMEmbedder()
        real.embed(["warm up"])
        for number, one in enumerate(spec["sets"]):
            corpus = tmp / f"set{number}"
            write = render_man_pages if one["kind"] == "man" else write_pydoc_pages
            missing = write(corpus, one["documents"])
            if missing:
                print(f"  not available here (their questions are skipped): {missing}")
            one = {**one, "questions": _checked(corpus, one["questions"])}
            size_kb = sum(p.stat().st_size for p in corpus.glob("*.txt")) / 1024
            print(
                f"\n{one['name']}: {len(one['documents']) - len(missing)} documents, "
                f"{size_kb:.0f} KiB; {len(one['questions'])} questions, "
                f"{len(one['absent'])} with no answer in them",
                flush=True,
            )
            results = {
                mode: await run_mode(tmp / f"set{number}-{mode}", mode, corpus, real, one)
                for mode in MODES
            }
            _report(results, len(one["absent"]))
            plain = await reindex_without_model(tmp / f"set{number}", corpus)
            print(
                f"reindex without the model (hashing embedder, median of 3, interleaved): "
                f"legacy {plain['legacy']:.2f}s, structured {plain['structured']:.2f}s "
                f"({plain['structured'] / plain['legacy']:.2f}x)",
                flush=True,
            )
        stdlib = await stdlib_file_recall(tmp, CachedEmbedder(real))
        print(
            f"\nstdlib set (knowledge_eval.json) file R@5: legacy {stdlib['legacy']:.2f}, "
            f"structured {stdlib['structured']:.2f}; answerable questions refused: "
            f"{stdlib['legacy refused']:.0f} / {stdlib['structured refused']:.0f}",
            flush=True,
        )
        calibration = ", ".join(
            f"{t}: {n}/{len(json.loads(STDLIB_EVAL.read_text())['questions'])}"
            for t, n in zip(THRESHOLDS, stdlib["structured refused at"], strict=True)
        )
        print(f"refused (structured) at KNOWLEDGE_MIN_SCORE = {calibration}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
