from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.ports import scopes_for
from bot.refs import ConversationRef
from bot.settings import Settings
from knowledge import KnowledgeBase, ScopeRules, open_knowledge_base
from knowledge.embedding import HashingEmbedder, Vector


def test_scope_rules_parse_and_longest_prefix(tmp_path: Path) -> None:
    rules = ScopeRules.parse("a=slack:T1:C1;a/deep=slack:T1,discord:G;b=public", base=tmp_path)
    assert rules.scopes_for_path(tmp_path / "a" / "x.md") == ("slack:T1:C1",)
    assert rules.scopes_for_path(tmp_path / "a" / "deep" / "y.md") == ("slack:T1", "discord:G")
    assert rules.scopes_for_path(tmp_path / "c.md") == ("public",)
    for bad in ("nodirs", "a=", "a=nocolon"):
        with pytest.raises(ConfigError, match="KNOWLEDGE_SCOPES"):
            ScopeRules.parse(bad)


async def test_a_channel_never_sees_another_channels_documents(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    root = tmp_path / "kb"
    for folder, text in (
        ("c1", "Launch codes for channel one: ALPHA."),
        ("c2", "Launch codes for channel two: BRAVO."),
        ("shared", "Launch codes are rotated weekly."),
    ):
        (root / folder).mkdir(parents=True)
        (root / folder / "codes.md").write_text(f"# Codes\n\n{text}\n")
    settings = make_settings(knowledge_scopes=f"{root}/c1=slack:T1:C1;{root}/c2=slack:T1:C2")
    kb = await open_knowledge_base(
        settings, embedder=HashingEmbedder(), schedule=False, min_score=0.0
    )
    try:
        await kb.reindex_report([str(root)])
        ref1 = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1")
        ref2 = ConversationRef(platform="slack", workspace_id="T1", channel_id="C2", thread_id="9")
        seen1 = {
            p.source.split("/")[-2]
            for p in await kb.retrieve("launch codes", scopes=scopes_for(ref1))
        }
        seen2 = {
            p.source.split("/")[-2]
            for p in await kb.retrieve("launch codes", scopes=scopes_for(ref2))
        }
        other = ConversationRef(platform="discord", workspace_id="G", channel_id="C1")
        seen3 = {
            p.source.split("/")[-2]
            for p in await kb.retrieve("launch codes", scopes=scopes_for(other))
        }
        assert seen1 == {"c1", "shared"} and seen2 == {"c2", "shared"} and seen3 == {"shared"}
        assert len(await kb.search("launch codes")) == 3  # admin search sees everything
    finally:
        await kb.close()

    # Re-scoping needs no re-embedding: only payloads change.
    embedder = HashingEmbedder()
    kb = await open_knowledge_base(
        make_settings(knowledge_scopes=f"{root}/c1=public"),
        embedder=embedder,
        schedule=False,
        min_score=0.0,
    )
    try:
        report = await kb.reindex_report([str(root)])
        assert embedder.texts_embedded == 0 and report.unchanged == 3
        ref2 = ConversationRef(platform="slack", workspace_id="T1", channel_id="C2")
        seen = {
            p.source.split("/")[-2]
            for p in await kb.retrieve("launch codes", scopes=scopes_for(ref2))
        }
        assert seen == {"c1", "c2", "shared"}
    finally:
        await kb.close()


class WatchingEmbedder(HashingEmbedder):
    """A new model whose every embed call checks the old index is still live and answering."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.kb: KnowledgeBase | None = None
        self.checks: list[tuple[str | None, int]] = []

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if self.kb is not None and len(texts) > 1:
            store = self.kb.store
            active = store.active()
            self.checks.append((active, len(self.kb._query("vacation days", ["public"], 5))))
        return super().embed(texts)


async def test_model_change_builds_new_collection_and_switches_alias(
    make_settings: Callable[..., Settings], corpus: Path
) -> None:
    from dataclasses import replace

    settings = make_settings(knowledge_paths=str(corpus))
    old = await open_knowledge_base(
        settings, embedder=HashingEmbedder(256), schedule=False, min_score=0.0
    )
    await old.reindex_report([str(corpus)])
    old_collection = old.store.active()
    await old.close()

    new_embedder = WatchingEmbedder(128)
    kb = await open_knowledge_base(settings, embedder=new_embedder, schedule=False, min_score=0.0)
    try:
        # Before the rebuild the old index still answers (queries embedded with its own model).
        assert (await kb.search("vacation days"))[0].source.endswith("page.html")
        kb.config = replace(kb.config, batch_chunks=2)
        new_embedder.kb = kb
        report = await kb.reindex_report()  # no paths: KNOWLEDGE_PATHS + the old index's roots
        new_collection = kb.store.active()
        assert new_collection is not None
        assert report.switched_from == old_collection and new_collection != old_collection
        assert kb.store.collections() == [new_collection]  # the old one is gone
        meta = kb.store.read_meta(new_collection) or {}
        assert (meta["model"], meta["dimension"], meta["state"]) == ("hashing-128", 128, "ready")
        # During the build the alias kept pointing at the full old index: no empty window.
        assert new_embedder.checks and all(
            active == old_collection and hits > 0 for active, hits in new_embedder.checks
        )
        assert (await kb.info()).documents == 4
        assert (await kb.search("vacation days"))[0].source.endswith("page.html")
    finally:
        await kb.close()
