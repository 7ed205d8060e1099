from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from knowledge import KnowledgeUnavailable, ensure_initial_index, open_knowledge_base
from knowledge.base import BUNDLED_DOCS, default_paths
from knowledge.cli import register
from knowledge.embedding import HashingEmbedder
from knowledge.schedule import scheduled_reindex, start_schedule


def run_cli(argv: list[str], settings: Settings) -> int:
    parser = argparse.ArgumentParser(prog="parley")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.kb_handler(args, settings))


def test_cli_reindex_status_search(
    make_settings: Callable[..., Settings], corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    assert run_cli(["kb", "reindex", "--quiet", str(corpus)], settings) == 0
    assert "4 indexed" in capsys.readouterr().out
    assert run_cli(["kb", "status"], settings) == 0
    out = capsys.readouterr().out
    assert "Documents: 4" in out and "hashing-256" in out and "Last run:" in out
    assert run_cli(["kb", "search", "E4711", "signing", "secret"], settings) == 0
    out = capsys.readouterr().out
    first = out.lstrip().splitlines()
    assert first[0].startswith("1. ") and "slack.md — Slack setup  [" in first[0]
    # the hit shows its own text (the two small sections grouped, the inner heading kept)
    assert first[1].strip().startswith("Create a Slack app") and "Errors Error E4711" in first[1]
    assert run_cli(["kb", "search", "zzzqqq"], settings) == 1
    assert "Nothing relevant in the knowledge base" in capsys.readouterr().out


def test_cli_search_json(
    make_settings: Callable[..., Settings], corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    assert run_cli(["kb", "reindex", "--quiet", str(corpus)], settings) == 0
    capsys.readouterr()
    assert run_cli(["kb", "search", "--json", "--limit", "2", "what", "is", "E4711"], settings) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["query"] == "what is E4711"
    top = result["hits"][0]
    assert top["rank"] == 1 and top["source"].endswith("guides/slack.md")
    assert top["heading_path"] == ["Slack setup"] and top["chunk_index"] == 0
    assert top["text"].endswith("Errors\nError E4711 means the signing secret does not match.")
    assert set(top["scores"]) == {"fused", "cosine"} and len(top["id"]) == 36
    assert len(result["hits"]) <= 2
    assert run_cli(["kb", "search", "--json", "zzzqqq"], settings) == 1
    assert json.loads(capsys.readouterr().out)["hits"] == []


def test_cli_progress_bar_goes_to_stderr(
    make_settings: Callable[..., Settings], corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["kb", "reindex", str(corpus)], make_settings()) == 0
    captured = capsys.readouterr()
    assert "4/4" in captured.err and "Reindex finished" in captured.out


def test_qdrant_server_down_is_a_quick_clear_error(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(qdrant_url="http://127.0.0.1:9")
    started = time.perf_counter()
    assert run_cli(["kb", "status"], settings) == 2
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err
    assert "Qdrant at http://127.0.0.1:9 is not reachable" in err and "QDRANT_URL" in err


async def test_local_index_locked_by_another_process_is_clear(
    tmp_path: Path, make_settings
) -> None:
    from knowledge.client import embedded_root
    from knowledge.vectors.edge import EdgeStore

    settings = make_settings()
    other = EdgeStore(embedded_root(settings))  # stands in for another process
    try:
        with pytest.raises(KnowledgeUnavailable, match="in use by another Parley process"):
            await open_knowledge_base(settings, embedder=HashingEmbedder(), schedule=False)
    finally:
        other.close()


async def test_shared_client_for_two_knowledge_bases(settings: Settings) -> None:
    first = await open_knowledge_base(settings, embedder=HashingEmbedder(), schedule=False)
    second = await open_knowledge_base(settings, embedder=HashingEmbedder(), schedule=False)
    assert first.store.vectors is second.store.vectors
    await first.close()
    assert await second.status()  # still usable after the other one closed
    await second.close()


async def test_initial_index_uses_bundled_docs_and_is_fast_when_unchanged(
    settings: Settings,
) -> None:
    assert default_paths(settings) == (str(BUNDLED_DOCS),)
    kb = await open_knowledge_base(
        settings, embedder=HashingEmbedder(), schedule=False, min_score=0.0
    )
    try:
        first = await ensure_initial_index(kb, settings)
        assert first is not None and first.indexed >= 5 and not first.errors
        hits = await kb.retrieve("How do I connect Parley to Slack?", scopes=["public"])
        assert any(h.source.endswith("docs/setup.md") for h in hits)
        second = await ensure_initial_index(kb, settings)
        assert second is not None and second.indexed == 0 and second.unchanged == first.indexed
    finally:
        await kb.close()


async def test_schedule_off_by_default_and_skips_when_busy(
    settings: Settings, corpus: Path
) -> None:
    kb = await open_knowledge_base(settings, embedder=HashingEmbedder())
    try:
        assert kb.scheduler is None  # REINDEX_INTERVAL_MINUTES=0
        scheduler = start_schedule(kb, 5)
        assert scheduler is not None
        job = scheduler.get_jobs()[0]
        assert job.max_instances == 1 and job.coalesce
        scheduler.shutdown(wait=False)
        kb._reindex_lock.acquire()  # a reindex is running
        try:
            await scheduled_reindex(kb)  # returns at once instead of queueing a second run
        finally:
            kb._reindex_lock.release()
        assert (await kb.info()).documents == 0
        await asyncio.wait_for(scheduled_reindex(kb), 30)
        assert (await kb.info()).documents >= 5  # the bundled docs
    finally:
        await kb.close()
