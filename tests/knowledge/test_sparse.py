from __future__ import annotations

from knowledge.sparse import document_vector, query_vector, term_index, terms


def test_identifiers_are_whole_and_split() -> None:
    got = terms("Call parse_config() or parseConfig; error ERR-1042 in os.path.join")
    for term in (
        "parse_config",
        "parse",
        "config",
        "parseconfig",
        "err-1042",
        "1042",
        "os.path.join",
        "join",
    ):
        assert term in got
    assert "or" not in got and "in" not in got


def test_plural_folding_and_stable_indices() -> None:
    assert terms("documents policies") == ["document", "policy"]
    import zlib

    assert term_index("document") == zlib.crc32(b"document")
    indices, values = document_vector("alpha alpha beta")
    assert (
        len(indices) == 2
        and values[indices.index(term_index("alpha"))] > values[indices.index(term_index("beta"))]
    )
    q_indices, q_values = query_vector("alpha alpha beta")
    assert sorted(q_indices) == sorted(indices) and q_values == [1.0, 1.0]
