from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import DocumentError
from knowledge.loaders import load_bytes, read_capped
from knowledge.walk import iter_files
from tests.knowledge.conftest import write_pdf


def load(path: Path):
    data, capped = read_capped(path, 10_000_000)
    return load_bytes(path, data, capped=capped)


def test_markdown_headings_paths_and_fences(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "---\ntitle: The Guide\n---\nIntro.\n\n# Setup\n\nText.\n\n## Slack\n\n"
        "```\n# not a heading\n```\n\nSetext\n------\n\nBody.\n"
    )
    doc = load(path)
    assert doc.title == "The Guide"
    assert [s.path for s in doc.sections] == ["", "Setup", "Setup > Slack", "Setup > Setext"]
    assert "# not a heading" in doc.sections[2].text


def test_html_strips_scripts_and_nav(tmp_path: Path) -> None:
    path = tmp_path / "p.html"
    path.write_text(
        "<html><head><title>T</title><style>p{}</style></head><body><nav>menu</nav>"
        "<script>evil()</script><h1>Top</h1><p>One <b>bold</b> word.</p><h2>Sub</h2>"
        "<pre>x = 1\ny = 2</pre><footer>copyright</footer></body></html>"
    )
    doc = load(path)
    text = "\n".join(s.text for s in doc.sections)
    assert doc.title == "T"
    assert "menu" not in text and "evil" not in text and "copyright" not in text
    assert "One bold word." in text
    assert [s.path for s in doc.sections] == ["Top", "Top > Sub"]
    assert "```\nx = 1\ny = 2\n```" in doc.sections[1].text


def test_pdf_one_section_per_page(tmp_path: Path) -> None:
    path = tmp_path / "manual.pdf"
    write_pdf(path, ["First page about routers", "Second page about switches"])
    doc = load(path)
    assert [s.path for s in doc.sections] == ["Page 1", "Page 2"]
    assert "routers" in doc.sections[0].text and "switches" in doc.sections[1].text


def test_corrupt_pdf_and_binary_files_raise(tmp_path: Path) -> None:
    bad_pdf = tmp_path / "bad.pdf"
    bad_pdf.write_bytes(b"%PDF-1.4\n garbage without objects")
    with pytest.raises(DocumentError):
        load(bad_pdf)
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02\xff" * 100)
    with pytest.raises(DocumentError, match="binary"):
        load(binary)


def test_rst_sections_and_latin1_text(tmp_path: Path) -> None:
    rst = tmp_path / "a.rst"
    rst.write_text("=====\nTitle\n=====\n\nIntro.\n\nPart\n----\n\nBody text.\n")
    doc = load(rst)
    assert doc.title == "Title"
    assert [s.path for s in doc.sections] == ["Title", "Title > Part"]
    latin = tmp_path / "l.txt"
    latin.write_bytes("café crème".encode("latin-1"))
    assert load(latin).sections[0].text == "café crème"


def test_large_files_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    data, capped = read_capped(path, 100)
    assert capped and len(data) == 100
    assert "only its first 100 bytes" in load_bytes(path, data, capped=capped).warnings[0]


def test_walk_include_exclude(tmp_path: Path) -> None:
    for rel in ("a.md", "b.txt", "img.png", "drafts/c.md", ".hidden/d.md", "node_modules/e.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    names = lambda **kw: [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path, **kw)]  # noqa: E731
    assert names() == ["a.md", "b.txt", "drafts/c.md"]
    assert names(exclude=["drafts/**"]) == ["a.md", "b.txt"]
    assert names(include=["*.md"]) == ["a.md", "drafts/c.md"]
