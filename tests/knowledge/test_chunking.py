from __future__ import annotations

import itertools

import pytest

from knowledge.chunking import ChunkConfig, chunk_document, chunk_sections, split_section
from knowledge.documents import Chunk, Section


def test_chunks_respect_size_and_overlap_is_applied() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(300))
    config = ChunkConfig(size=400, overlap=100)
    chunks = split_section(text, config)
    assert len(chunks) > 5
    assert all(len(c) <= 400 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        head = after[:60]
        assert head in before, "each chunk starts with the tail of the previous one"
        shared = max(k for k in range(1, len(after)) if before.endswith(after[:k]))
        assert 50 <= shared <= 100


def test_zero_overlap_means_disjoint_chunks() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(30))
    chunks = split_section(text, ChunkConfig(size=300, overlap=0))
    assert "".join(c.replace("\n", "").replace(" ", "") for c in chunks) == text.replace(
        "\n", ""
    ).replace(" ", "")


def test_code_fences_kept_whole_when_they_fit() -> None:
    code = "```python\n" + "\n".join(f"value_{i} = {i}" for i in range(15)) + "\n```"
    text = "Intro paragraph. " * 10 + "\n\n" + code + "\n\nAfter the code."
    chunks = split_section(text, ChunkConfig(size=400, overlap=80))
    assert any(code in c for c in chunks)
    assert all(c.count("```") % 2 == 0 for c in chunks)


def test_oversized_code_block_is_split_and_refenced() -> None:
    code = "```sh\n" + "\n".join(f"echo line {i}" for i in range(200)) + "\n```"
    chunks = split_section(code, ChunkConfig(size=300, overlap=50))
    assert len(chunks) > 3
    assert all(c.startswith("```sh\n") and c.endswith("\n```") and len(c) <= 300 for c in chunks)


def test_sections_keep_their_heading_paths() -> None:
    sections = [
        Section(headings=("A",), text="alpha " * 100),
        Section(headings=("A", "B"), text="beta"),
    ]
    pieces = chunk_sections(sections, ChunkConfig(size=200, overlap=40))
    assert {p for p, _ in pieces} == {"A", "A > B"}
    assert pieces[-1] == ("A > B", "beta")


def test_bad_config_rejected() -> None:
    with pytest.raises(ValueError):
        ChunkConfig(size=100, overlap=80)


# --- structure-aware chunking (chunk_document) ----------------------------------------------


def _entry(name: str, body_chars: int) -> Section:
    body = ("x" * (body_chars - 1) + ".") if body_chars else ""
    return Section(headings=("OPTIONS", name), text=f"{name}\n{body}", titled=True)


def test_an_entry_that_fits_is_one_chunk_with_its_path() -> None:
    sections = [Section(headings=("NAME",), text="grep - print lines"), _entry("-i", 600)]
    pieces = chunk_document(sections, ChunkConfig(size=1000, overlap=200))
    assert [(p.path, p.text) for p in pieces][1] == ("OPTIONS > -i", sections[1].text)
    assert pieces[1].lead == ""


def test_small_siblings_group_up_to_the_group_size_exactly() -> None:
    config = ChunkConfig(size=1000, overlap=200)
    a, b = _entry("-a", 150), _entry("-b", 0)
    room = config.group_chars - len(a.text) - 2 - len("-b\n")
    fits = Section(headings=b.headings, text="-b\n" + "y" * room, titled=True)
    over = Section(headings=b.headings, text="-b\n" + "y" * (room + 1), titled=True)
    grouped = chunk_document([a, fits], config)
    assert len(grouped) == 1 and len(grouped[0].text) == config.group_chars
    assert grouped[0].headings == ("OPTIONS",)  # the common path names the group
    assert grouped[0].text == f"{a.text}\n\n{fits.text}"
    assert [p.headings for p in chunk_document([a, over], config)] == [
        ("OPTIONS", "-a"),
        ("OPTIONS", "-b"),
    ]


def test_grouped_member_without_its_heading_line_gets_it() -> None:
    sections = [
        Section(headings=("Setup",), text="Create the app."),
        Section(headings=("Setup", "Errors"), text="E4711 means a bad secret."),
    ]
    (piece,) = chunk_document(sections, ChunkConfig())
    assert piece.headings == ("Setup",)
    assert piece.text == "Create the app.\n\nErrors\nE4711 means a bad secret."


def test_groups_do_not_reach_across_to_another_parent() -> None:
    sections = [
        Section(headings=("A", "B", "c"), text="c text", titled=False),
        Section(headings=("A", "D"), text="d text"),
    ]
    assert [p.headings for p in chunk_document(sections, ChunkConfig())] == [
        ("A", "B", "c"),
        ("A", "D"),
    ]


def test_long_entry_split_at_its_own_paragraphs_with_a_lead_for_embedding_only() -> None:
    paragraphs = [f"Paragraph {i}. " + " ".join(["word"] * 70) for i in range(6)]
    long = Section(headings=("OPTIONS", "--long"), text="\n\n".join(paragraphs), titled=True)
    pieces = chunk_document([long, _entry("-s", 50)], ChunkConfig(size=1000, overlap=100))
    parts = [p for p in pieces if p.headings == ("OPTIONS", "--long")]
    assert len(parts) == 3 and all(len(p.text) <= 1000 for p in parts)
    assert "\n\n".join(p.text for p in parts) == long.text  # no stored overlap, nothing lost
    assert parts[1].text.startswith("Paragraph 2.")  # cut between paragraphs
    assert parts[0].lead == "" and 0 < len(parts[1].lead) <= 100
    assert parts[0].text.endswith(parts[1].lead)
    assert pieces[-1].headings == ("OPTIONS", "-s")  # a cut section is not grouped


def test_embedding_text_has_title_path_and_lead_but_stored_text_is_own() -> None:
    chunk = Chunk(
        doc_id="d",
        source="grep.txt",
        title="Grep",
        section="OPTIONS > -i",
        index=0,
        text="-i\n   Ignore case.",
        content_hash="h",
        lead="end of before",
    )
    assert chunk.embedding_text() == "Grep — OPTIONS > -i\nend of before … -i\n   Ignore case."
