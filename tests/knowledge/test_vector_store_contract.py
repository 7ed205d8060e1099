"""One contract, two vector stores: Qdrant's in-process engine (the embedded default) and
qdrant-client (used against servers; its local mode stands in for the server here)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from knowledge.errors import KnowledgeUnavailable
from knowledge.vectors import Hit, HybridQuery, Point, VectorStore, Where
from knowledge.vectors.edge import EdgeStore
from knowledge.vectors.server import ServerStore

A = "parley_knowledge__a"
B = "parley_knowledge__b"
Opener = Callable[[], VectorStore]


def _edge(root: Path) -> Opener:
    return lambda: EdgeStore(root)


def _server(root: Path) -> Opener:
    def open_store() -> VectorStore:
        client = QdrantClient(path=str(root), force_disable_check_same_thread=True)
        return ServerStore(client, alias="parley_knowledge", local=True, where=str(root))

    return open_store


@pytest.fixture(params=["edge", "server"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    return {"edge": _edge, "server": _server}[request.param](tmp_path / "index")


@pytest.fixture
def store(opener: Opener) -> Iterator[VectorStore]:
    opened = opener()
    yield opened
    opened.close()


def pid(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, label))


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def chunk(label: str, dense: list[float], terms: dict[int, float], **payload: object) -> Point:
    indices = sorted(terms)
    return Point(
        id=pid(label),
        dense=dense,
        sparse=(indices, [terms[i] for i in indices]),
        payload={"kind": "chunk", "label": label, **payload},
    )


def fill(store: VectorStore, name: str = A) -> None:
    store.create(name, 3)
    store.upsert(
        name,
        [
            chunk("slack", unit(1, 0, 0), {1: 1.0, 7: 1.0}, doc_id="d1", scopes=["public"]),
            chunk("slack-2", unit(1, 0.2, 0), {1: 1.0}, doc_id="d1", scopes=["public"]),
            chunk("teams", unit(0, 1, 0), {1: 1.0, 2: 1.0}, doc_id="d2", scopes=["teams:T1"]),
            chunk("pasta", unit(0, 0, 1), {1: 1.0, 3: 1.0}, doc_id="d3", scopes=["public"]),
            Point(id=pid("doc-d1"), payload={"kind": "doc", "doc_id": "d1", "hash": "h1"}),
        ],
    )


def labels(hits: Sequence[Hit]) -> list[str]:
    return [h.payload["label"] for h in hits]


def test_collections_and_atomic_activation(store: VectorStore) -> None:
    assert store.active() is None and store.names() == []
    store.create(B, 3)
    store.create(A, 3)
    assert store.names() == [A, B]
    assert store.activate(A) is None and store.active() == A
    assert store.activate(B) == A and store.active() == B
    with pytest.raises(ValueError):
        store.drop(B)  # the live collection is never dropped
    store.drop(A)
    assert store.names() == [B] and store.active() == B


def test_records_without_vectors_scroll_count_and_retrieve(store: VectorStore) -> None:
    fill(store)
    store.upsert(A, [Point(id=pid("meta"), payload={"kind": "meta", "model": "m", "n": [1, 2]})])
    (meta,) = store.retrieve(A, [pid("meta")])
    assert meta.id == pid("meta") and meta.payload == {"kind": "meta", "model": "m", "n": [1, 2]}
    assert store.retrieve(A, [pid("missing")]) == []
    assert [h.payload["doc_id"] for h in store.scroll(A, Where.eq(kind="doc"))] == ["d1"]
    assert store.count(A, Where.eq(kind="chunk")) == 4
    assert store.count(A, Where.eq(kind="chunk", doc_id="d1")) == 2


def test_scroll_pages_through_many_points(store: VectorStore) -> None:
    store.create(A, 3)
    store.upsert(
        A, [Point(id=pid(f"doc{i}"), payload={"kind": "doc", "i": i}) for i in range(2500)]
    )
    assert sorted(h.payload["i"] for h in store.scroll(A, Where.eq(kind="doc"))) == list(
        range(2500)
    )


def test_delete_by_condition_and_id_and_set_payload(store: VectorStore) -> None:
    fill(store)
    store.upsert(A, [chunk("slack-v2", unit(1, 0, 0), {1: 1.0}, doc_id="d1", content_hash="new")])
    store.delete(
        A,
        where=Where(
            equal=(("doc_id", "d1"), ("kind", "chunk")), not_equal=(("content_hash", "new"),)
        ),
    )
    remaining = {h.payload["label"] for h in store.scroll(A, Where.eq(kind="chunk"))}
    assert remaining == {"slack-v2", "teams", "pasta"}
    store.delete(A, ids=[pid("doc-d1")])
    assert store.scroll(A, Where.eq(kind="doc")) == []
    store.set_payload(A, Where.eq(doc_id="d3"), {"scopes": ["slack:T9"]})
    (pasta,) = store.retrieve(A, [pid("pasta")])
    assert pasta.payload["scopes"] == ["slack:T9"] and pasta.payload["label"] == "pasta"


def test_hybrid_fuses_dense_and_sparse_with_scope_filter_and_thresholds(
    store: VectorStore,
) -> None:
    fill(store)
    near_slack = unit(1, -0.1, 0)
    both = store.hybrid(A, HybridQuery(dense=near_slack, sparse=([7], [1.0]), limit=3))
    assert labels(both)[0] == "slack"  # first in both lists
    # RRF with k=60: 2/60 (ranks from 0, the engine and servers) or 2/61 (local mode).
    assert both[0].score == pytest.approx(2 / 60.5, rel=0.01)
    assert both[0].score > both[1].score
    # The rare term 3 (one chunk) outweighs the common term 1 (every chunk): IDF applies.
    sparse_only = store.hybrid(
        A, HybridQuery(dense=near_slack, sparse=([1, 3], [1.0, 1.0]), min_dense=1.01, limit=3)
    )
    assert labels(sparse_only)[0] == "pasta"
    public = store.hybrid(
        A,
        HybridQuery(
            dense=unit(0, 1, 0), sparse=([2], [1.0]), where=Where(any_of=("scopes", ("public",)))
        ),
    )
    assert "teams" not in labels(public) and set(labels(public)) <= {"slack", "slack-2", "pasta"}
    teams = store.hybrid(
        A,
        HybridQuery(
            dense=unit(0, 1, 0),
            sparse=([2], [1.0]),
            where=Where(any_of=("scopes", ("teams:T1", "slack:T9"))),
        ),
    )
    assert labels(teams) == ["teams"]
    strict = store.hybrid(A, HybridQuery(dense=unit(0, 0, 1), sparse=([], []), min_dense=0.99))
    assert labels(strict) == ["pasta"]  # only the dense search ran, and one point passed


def test_state_survives_close_and_reopen(opener: Opener) -> None:
    first = opener()
    fill(first)
    first.activate(A)
    first.close()
    again = opener()
    try:
        assert again.active() == A and again.count(A, Where.eq(kind="chunk")) == 4
        hits = again.hybrid(A, HybridQuery(dense=unit(0, 0, 1), sparse=([3], [1.0])))
        assert labels(hits)[0] == "pasta"
    finally:
        again.close()


def test_both_stores_rank_identically(tmp_path: Path) -> None:
    stores = [_edge(tmp_path / "edge")(), _server(tmp_path / "server")()]
    try:
        results = []
        for store in stores:
            fill(store)
            # No ties (the order of tied points is arbitrary): dense slack-2, slack, teams,
            # pasta; sparse teams, pasta.
            query = HybridQuery(dense=unit(1, 0.5, 0.1), sparse=([2, 3], [1.0, 0.5]), limit=4)
            results.append(store.hybrid(A, query))
        assert [labels(r) for r in results] == [["teams", "pasta", "slack-2", "slack"]] * 2
        # RRF ranks count from 0 in the engine and from 1 in local mode: scores differ by ~1/60.
        for ours, theirs in zip(*results, strict=True):
            assert ours.score == pytest.approx(theirs.score, rel=0.02)
    finally:
        for store in stores:
            store.close()


# --- the embedded engine's directory swap ---------------------------------------------------


def test_edge_second_opener_is_refused_clearly(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "index")
    try:
        with pytest.raises(KnowledgeUnavailable, match="in use by another Parley process"):
            EdgeStore(tmp_path / "index")
    finally:
        first.close()


def test_edge_switch_is_a_pointer_and_crash_debris_is_harmless(tmp_path: Path) -> None:
    root = tmp_path / "index"
    store = EdgeStore(root)
    fill(store, A)
    store.activate(A)
    store.create(B, 3)
    store.close()
    assert (root / "ACTIVE").read_text().strip() == A
    # A crash while switching leaves at most a temporary pointer file; one while dropping, a
    # collection already moved into trash/. Neither changes what is live.
    (root / ".ACTIVE.999.tmp").write_text(B)
    (root / "trash" / "parley_knowledge__old.1234").mkdir(parents=True)
    reopened = EdgeStore(root)
    try:
        assert reopened.active() == A and reopened.names() == [A, B]
        assert not (root / "trash").exists()
        assert reopened.count(A, Where.eq(kind="chunk")) == 4
        assert reopened.activate(B) == A
        reopened.drop(A)
        assert reopened.names() == [B] and not (root / "collections" / A).exists()
    finally:
        reopened.close()


def test_edge_pointer_to_a_missing_collection_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "index"
    EdgeStore(root).close()
    (root / "ACTIVE").write_text("parley_knowledge__gone\n")
    with pytest.raises(KnowledgeUnavailable, match="missing"):
        EdgeStore(root)


def test_edge_keeps_dense_vectors_in_half_precision_and_ranks_as_exact_cosines(
    tmp_path: Path,
) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[0] + 0.5 * vectors[1]
    query /= np.linalg.norm(query)
    store = EdgeStore(tmp_path / "index")
    try:
        store.create(A, 384)
        store.upsert(
            A,
            [
                Point(id=pid(f"p{i}"), dense=v.tolist(), payload={"kind": "chunk", "n": i})
                for i, v in enumerate(vectors)
            ],
        )
        back = store.dense_vectors(A, [pid("p5")])[pid("p5")]
        error = np.abs(np.asarray(back) - vectors[5]).max()
        assert 1e-6 < error < 1e-3  # rounded to float16 (float32 would be within 1e-7), and close
        hits = store.hybrid(A, HybridQuery(dense=query.tolist(), sparse=([], []), limit=10))
        exact = np.argsort(-(vectors @ query))[:10]
        assert [h.payload["n"] for h in hits] == exact.tolist()
    finally:
        store.close()
