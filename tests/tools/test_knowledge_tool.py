"""`search_knowledge` over a real knowledge base (in-process engine, hashing embedder): it sees
only the conversation's scopes, its arguments are checked before it runs, and what it returns
names each passage's title, source and section."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.llm.types import ToolCall
from bot.ports import Passage
from bot.refs import Author, ConversationRef
from bot.settings import load_settings
from bot.tools.builtin.knowledge import search_knowledge_tool
from bot.tools.registry import CheckedCall, Risk, ToolContext, ToolRegistry
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.embedding import HashingEmbedder


def context(channel: str) -> ToolContext:
    return ToolContext(
        ref=ConversationRef(platform="slack", workspace_id="T1", channel_id=channel),
        author=Author(id="U1"),
        call_id="c1",
        turn_id="t1",
        now=datetime(2030, 1, 1, tzinfo=UTC),
    )


@pytest.fixture
async def kb(tmp_path: Path) -> AsyncIterator[KnowledgeBase]:
    root = tmp_path / "kb"
    for folder, body in (
        ("c1", "## Deploy keys\n\nThe deploy key for channel one is ALPHA-7."),
        ("c2", "## Deploy keys\n\nThe deploy key for channel two is BRAVO-9."),
        ("shared", "## Rotation\n\nDeploy keys are rotated every Monday."),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / "keys.md").write_text(f"# Keys {folder}\n\n{body}\n")
    settings = load_settings(
        data_dir=tmp_path / "data",
        embedding_model="hashing-256",
        knowledge_scopes=f"{root}/c1=slack:T1:C1;{root}/c2=slack:T1:C2",
    )
    base = await open_knowledge_base(
        settings, embedder=HashingEmbedder(256), schedule=False, min_score=0.0
    )
    await base.reindex_report([str(root)])
    yield base
    await base.close()


async def test_a_channel_searches_only_what_it_may_see(kb: KnowledgeBase) -> None:
    tool = search_knowledge_tool(kb)
    in_two = await tool.run({"query": "deploy key"}, context("C2"))
    assert "BRAVO-9" in in_two and "rotated every Monday" in in_two
    assert "ALPHA-7" not in in_two
    elsewhere = await tool.run({"query": "deploy key"}, context("C3"))
    assert "rotated every Monday" in elsewhere
    assert "ALPHA-7" not in elsewhere and "BRAVO-9" not in elsewhere


async def test_passages_are_numbered_with_title_source_and_section(kb: KnowledgeBase) -> None:
    out = await search_knowledge_tool(kb).run({"query": "deploy key", "limit": 1}, context("C1"))
    assert out.startswith("[1] Keys c1 — ") and "[2]" not in out
    head, text = out.split("\n", 1)
    assert head.endswith("c1/keys.md § Keys c1 > Deploy keys")
    assert text.strip() == "The deploy key for channel one is ALPHA-7."


async def test_nothing_found_says_so(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", embedding_model="hashing-256")
    empty = await open_knowledge_base(
        settings, embedder=HashingEmbedder(256), schedule=False, min_score=0.0
    )
    try:
        out = await search_knowledge_tool(empty).run({"query": "deploy key"}, context("C1"))
    finally:
        await empty.close()
    assert out == "No matching passages in the knowledge base."


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "'query' is a required property"),
        ({"query": ""}, "should be non-empty"),
        ({"query": "x" * 501}, "is too long"),
        ({"query": "keys", "limit": 11}, "11 is greater than the maximum of 10"),
        ({"query": "keys", "limit": 0}, "0 is less than the minimum of 1"),
        ({"query": "keys", "scopes": ["public"]}, "Additional properties are not allowed"),
    ],
)
async def test_arguments_are_checked_before_the_tool_runs(
    arguments: dict[str, object], problem: str
) -> None:
    registry = ToolRegistry([search_knowledge_tool(Unreachable())])
    refused = registry.check(ToolCall(id="1", name="search_knowledge", arguments=arguments))
    assert not isinstance(refused, CheckedCall)
    assert problem in refused.content and "Not run" in refused.content


def test_a_search_runs_without_approval() -> None:
    registry = ToolRegistry([search_knowledge_tool(Unreachable())])
    checked = registry.check(ToolCall(id="1", name="search_knowledge", arguments={"query": "x"}))
    assert isinstance(checked, CheckedCall) and checked.risk is Risk.READ


class Unreachable:
    """A retriever a refused call must never reach."""

    async def retrieve(self, query: str, *, scopes: Sequence[str], limit: int = 8) -> list[Passage]:
        raise AssertionError("the tool ran")
