"""The packaged all-MiniLM-L6-v2 (fused ONNX graphs): real vectors, hybrid retrieval end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from bot.settings import Settings, load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.embedding.onnx import MiniLMEmbedder
from knowledge.sparse import terms

pytestmark = pytest.mark.real_embeddings


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(cache_dir=load_settings().models_dir)


def test_minilm_vectors_are_normalised_and_meaningful(minilm: MiniLMEmbedder) -> None:
    vectors = np.array(
        minilm.embed(
            [
                "How do I reset my password?",
                "I forgot my password, how can I change it?",
                "The quarterly revenue grew by twelve percent.",
                "",
            ]
        )
    )
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.8 > 0.2 > sims[0, 2]
    # batching and ordering do not change a text's vector
    again = np.array(minilm.embed(["The quarterly revenue grew by twelve percent."]))
    assert np.allclose(again[0], vectors[2], atol=1e-5)


@pytest.fixture
async def real_kb(
    make_settings: Callable[..., Settings], minilm: MiniLMEmbedder, tmp_path: Path
) -> AsyncIterator[KnowledgeBase]:
    root = tmp_path / "handbook"
    root.mkdir()
    docs = {
        "accounts.md": "# Accounts\n\nTo change your password, open Settings, choose Security "
        "and press Reset password. A link is emailed to you.",
        "errors.md": "# Error reference\n\nE4711: the webhook signature did not verify. Check "
        "the signing secret.\n\nE1200: rate limit reached, wait a minute.",
        "billing.md": "# Billing\n\nInvoices are emailed on the first day of each month. "
        "Payment is due within thirty days.",
        "travel.md": "# Travel\n\nBook flights through the travel portal and keep receipts for "
        "expense reports.",
        "api.md": "# API\n\nCall `fetch_report(report_id)` to download a finished report as CSV.",
    }
    for name, text in docs.items():
        (root / name).write_text(text)
    kb = await open_knowledge_base(
        make_settings(embedding_model="all-MiniLM-L6-v2"), embedder=minilm, schedule=False
    )
    await kb.reindex_report([str(root)])
    yield kb
    await kb.close()


async def test_exact_identifier_found_by_sparse_side(real_kb: KnowledgeBase) -> None:
    for query, expected in (("E4711", "errors.md"), ("fetch_report", "api.md")):
        hits = await real_kb.retrieve(query, scopes=["public"])
        assert hits and hits[0].source.endswith(expected), (query, hits)
    # With the dense side switched off (threshold above any cosine), the identifier still wins.
    real_kb.min_score = 1.01
    hits = await real_kb.retrieve("what does E4711 mean", scopes=["public"])
    assert hits[0].source.endswith("errors.md")


async def test_paraphrase_found_by_dense_side(real_kb: KnowledgeBase) -> None:
    query = "I forgot my login credentials, how do I get new ones?"
    doc = "To change your password, open Settings, choose Security and press Reset password."
    assert not set(terms(query)) & set(terms(doc)), "no shared words: only meaning can match"
    hits = await real_kb.retrieve(query, scopes=["public"])
    assert hits and hits[0].source.endswith("accounts.md")


async def test_unrelated_question_finds_nothing(real_kb: KnowledgeBase) -> None:
    assert await real_kb.retrieve("Who painted the Mona Lisa?", scopes=["public"]) == []


async def test_workplace_question_the_handbook_does_not_answer_finds_nothing(
    real_kb: KnowledgeBase,
) -> None:
    # every word is handbook-like and the sparse side matches "book"; the best cosine is low
    assert await real_kb.retrieve("How do I book a meeting room?", scopes=["public"]) == []
    hits = await real_kb.search_hits("How do I book a meeting room?", limit=3)
    assert hits == []
    real_kb.min_score = None  # no cut: the same question does get ranked passages
    assert await real_kb.search_hits("How do I book a meeting room?", limit=3)
