from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.embedding import HashingEmbedder, Vector
from tests.knowledge.conftest import write_pdf


async def sources(kb: KnowledgeBase, query: str, scopes: Sequence[str] = ("public",)) -> list[str]:
    return [p.source.rsplit("/", 1)[-1] for p in await kb.retrieve(query, scopes=scopes)]


def many_docs(tmp_path: Path, count: int, text: Callable[[int], str]) -> Path:
    """A folder of `count` Markdown files, doc0.md … with `text(i)` each."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(count):
        (root / f"doc{i}.md").write_text(text(i))
    return root


def embed_with(kb: KnowledgeBase, embedder: HashingEmbedder, batch_chunks: int) -> None:
    kb.embedder = embedder
    kb.config = replace(kb.config, batch_chunks=batch_chunks)


async def test_index_then_search_finds_files(kb: KnowledgeBase, corpus: Path) -> None:
    report = await kb.reindex_report([str(corpus)])
    assert (report.indexed, report.errors) == (4, [])
    assert (await sources(kb, "E4711 signing secret"))[0] == "slack.md"
    assert (await sources(kb, "vacation days"))[0] == "page.html"
    hits = await kb.search("pasta tomato sauce")
    assert hits[0].source.endswith("cooking.txt") and 0 < hits[0].score <= 1
    assert hits[0].title == "Cooking" and hits[0].chunk_id


async def test_unchanged_run_embeds_nothing_and_change_reembeds_one_file(
    kb: KnowledgeBase, corpus: Path, embedder: HashingEmbedder
) -> None:
    await kb.reindex_report([str(corpus)])
    embedded = embedder.texts_embedded
    again = await kb.reindex_report([str(corpus)])
    assert (again.indexed, again.unchanged, embedder.texts_embedded) == (0, 4, embedded)

    (corpus / "guides" / "billing.md").write_text("# Billing\n\nInvoices now arrive weekly.\n")
    changed = await kb.reindex_report([str(corpus)])
    assert (changed.indexed, changed.unchanged) == (1, 3)
    assert embedder.texts_embedded - embedded == changed.chunks_written == 1
    hits = await kb.search("invoices")
    assert [h.text for h in hits if h.source.endswith("billing.md")] == [
        "Invoices now arrive weekly."
    ]  # the old version's chunk is gone


async def test_deleted_file_points_are_removed(kb: KnowledgeBase, corpus: Path) -> None:
    await kb.reindex_report([str(corpus)])
    before = await kb.info()
    (corpus / "cooking.txt").unlink()
    report = await kb.reindex_report([str(corpus)])
    after = await kb.info()
    assert report.deleted == 1 and after.documents == before.documents - 1
    assert after.chunks < before.chunks
    assert "cooking.txt" not in await sources(kb, "pasta tomato sauce")


async def test_bad_files_reported_and_skipped(kb: KnowledgeBase, corpus: Path) -> None:
    (corpus / "blob.txt").write_bytes(b"\x00\xff\x00binary" * 50)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (corpus / "empty.md").write_text("   \n")
    write_pdf(corpus / "manual.pdf", ["Routers forward packets between networks"])
    locked = corpus / "locked.md"
    locked.write_text("secret")
    locked.chmod(0)
    report = await kb.reindex_report([str(corpus)])
    locked.chmod(0o644)
    failed = {src.rsplit("/", 1)[-1] for src, _ in report.errors}
    assert {"blob.txt", "broken.pdf"} <= failed
    if os.geteuid() != 0:  # root reads anything
        assert "locked.md" in failed
    assert any(e.endswith("empty.md") for e in report.empty)
    assert report.indexed >= 5  # the good files, including the PDF
    assert "manual.pdf" in await sources(kb, "routers packets networks")
    assert "Error:" in report.render() and "empty" in report.render()


async def test_huge_file_capped_with_warning(kb: KnowledgeBase, corpus: Path) -> None:
    kb.config = replace(kb.config, max_file_bytes=2000)
    (corpus / "huge.txt").write_text("lorem ipsum " * 5000)
    report = await kb.reindex_report([str(corpus)])
    assert any(
        src.endswith("huge.txt") and "first 2,000 bytes" in msg for src, msg in report.warnings
    )


class CrashingEmbedder(HashingEmbedder):
    def __init__(self, fail_on_call: int) -> None:
        super().__init__(256)
        self.fail_on_call = fail_on_call

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if self.calls + 1 == self.fail_on_call:
            self.calls += 1
            raise RuntimeError("embedding service died")
        return super().embed(texts)


async def test_crash_mid_reindex_resumes(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = many_docs(tmp_path, 10, lambda i: f"# Doc {i}\n\nUnique topic number{i} here.\n")
    crashing = CrashingEmbedder(fail_on_call=3)
    embed_with(kb, crashing, batch_chunks=2)
    with pytest.raises(RuntimeError, match="died"):
        await kb.reindex_report([str(root)])
    assert (await kb.info()).documents == 4  # two batches of two were checkpointed
    assert "failure" in (await kb.status()) or "failed" in (await kb.status())
    resumed = await kb.reindex_report([str(root)])
    assert (resumed.unchanged, resumed.indexed) == (4, 6)
    assert crashing.texts_embedded == 4 + 6  # nothing finished was embedded twice
    info = await kb.info()
    assert (info.documents, info.chunks) == (10, 10)


class SlowEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(256)
        self.started = threading.Event()
        self.release = threading.Event()
        self.later = threading.Event()
        """Holds every call after the first while clear (set: they run freely)."""
        self.later.set()
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        self.started.set()
        self.release.wait(5)
        if self.calls > 1:
            self.later.wait(5)
        return super().embed(texts)


async def test_cancel_keeps_progress_and_second_reindex_refused(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    root = many_docs(tmp_path, 8, lambda i: f"Topic {i}.")
    slow = SlowEmbedder()
    embed_with(kb, slow, batch_chunks=1)
    task = asyncio.create_task(kb.reindex_report([str(root)]))
    assert await asyncio.to_thread(slow.started.wait, 30)
    assert kb.reindexing
    assert "already running" in await kb.reindex([str(root)])
    kb.cancel_reindex()
    slow.release.set()
    report = await task
    assert report.cancelled and 1 <= report.indexed < 8
    assert "resume" in report.render()
    rest = await kb.reindex_report([str(root)])
    assert rest.unchanged == report.indexed and rest.indexed == 8 - report.indexed


async def test_task_cancellation_stops_the_worker(kb: KnowledgeBase, tmp_path: Path) -> None:
    root = many_docs(tmp_path, 5, lambda i: f"Topic {i}.")
    slow = SlowEmbedder()
    slow.later.clear()  # however slow the machine, the run cannot finish before the cancel lands
    embed_with(kb, slow, batch_chunks=1)
    task = asyncio.create_task(kb.reindex_report([str(root)]))
    assert await asyncio.to_thread(slow.started.wait, 30)
    task.cancel()
    slow.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not kb.reindexing
    assert (await kb.info()).documents < 5


async def test_status_reports_counts_model_and_errors(kb: KnowledgeBase, corpus: Path) -> None:
    assert "empty" in await kb.status()
    (corpus / "blob.txt").write_bytes(b"\x00" * 10)
    await kb.reindex_report([str(corpus)])
    status = await kb.status()
    assert "Model: hashing-256 (256 dimensions)" in status
    assert "Documents: 4" in status and "1 errors" in status and "blob.txt" in status
