from __future__ import annotations

import itertools

import pytest

from knowledge.chunking import ChunkConfig, chunk_sections, split_section
from knowledge.documents import Section


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
