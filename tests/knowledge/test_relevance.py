"""The 'nothing relevant' decision (knowledge.relevance): a cosine threshold, or an identifier."""

from __future__ import annotations

from knowledge.relevance import Hit, identifiers, relevant


def _hit(cosine: float, text: str, section: str = "") -> Hit:
    return Hit(
        id="x", payload={"title": "T", "section": section, "text": text}, fused=1.0, cosine=cosine
    )


def test_identifiers_are_names_not_words_or_acronyms() -> None:
    got = identifiers(
        "Why does parseConfig fail with E4711 in os.path? Try --ignore-case, GPG, TCP"
    )
    assert got == {"parseconfig", "e4711", "os.path", "ignore-case"}
    assert identifiers("How do I reset my password?") == set()


def test_relevant_on_the_best_cosine_at_the_threshold() -> None:
    hits = [_hit(0.2, "a"), _hit(0.45, "b")]
    assert relevant(hits, "some question", 0.45)
    assert not relevant(hits, "some question", 0.4501)
    assert relevant(hits, "anything", None)
    assert not relevant([], "anything", None)


def test_an_identifier_found_in_a_hit_counts_below_the_threshold() -> None:
    hits = [_hit(0.1, "Error E4711 means the signing secret does not match.")]
    assert relevant(hits, "what is E4711", 0.45)
    assert not relevant(hits, "what is E4712", 0.45)  # named, but not in any hit
    assert relevant([_hit(0.1, "", section="API > fetch_report")], "fetch_report?", 0.45)
