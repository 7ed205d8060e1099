"""Turn a file into a `LoadedDocument`, chosen by extension.

`read_capped(path, max_bytes)` reads the file once, keeping only its first `max_bytes` (PDFs whole);
`load_bytes(path, data, capped=…)` parses them, rejects binary or corrupt content with a
`DocumentError` (the indexer reports it and goes on), and a capped document carries a warning
saying only part of it is indexed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from knowledge.documents import LoadedDocument
from knowledge.errors import DocumentError
from knowledge.loaders.html import load_html
from knowledge.loaders.markdown import load_markdown
from knowledge.loaders.outline import load_outlined
from knowledge.loaders.pdf import load_pdf
from knowledge.loaders.text import decode_text, load_plain, load_rst

TextLoader = Callable[[str, str], LoadedDocument]
"""(text, fallback title) -> document."""

TEXT_LOADERS: dict[str, TextLoader] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".mdx": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".rst": load_rst,
    ".rest": load_rst,
}
OUTLINED_EXTENSIONS = frozenset({".txt", ".text"})
"""Prose text whose layout (titles, indented entries) is read for structure; see loaders.outline."""
PLAIN_EXTENSIONS = OUTLINED_EXTENSIONS | frozenset(
    {
        ".adoc",
        ".asciidoc",
        ".org",
        ".csv",
        ".tsv",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".tex",
        ".log",
    }
)
SUPPORTED_EXTENSIONS = frozenset(TEXT_LOADERS) | PLAIN_EXTENSIONS | {".pdf"}


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def title_from_name(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ").strip().capitalize() or path.name


def load_bytes(
    path: Path,
    data: bytes,
    *,
    capped: bool = False,
    max_chars: int | None = None,
    structure: bool = True,
) -> LoadedDocument:
    """Parse `data` (the file's content, possibly already capped) by `path`'s extension.

    `structure=False` reads plain text as one section (the behaviour before plain-text structure
    was read; the retrieval benchmark compares the two)."""
    suffix = path.suffix.lower()
    fallback = title_from_name(path)
    warnings: list[str] = []
    if capped:
        warnings.append(
            f"file is larger than the cap; only its first {len(data):,} bytes are indexed"
        )
    if suffix == ".pdf":
        doc = load_pdf(data, fallback, max_chars=max_chars)
    else:
        text = decode_text(data)
        outlined = structure and suffix in OUTLINED_EXTENSIONS
        loader = TEXT_LOADERS.get(suffix, load_outlined if outlined else load_plain)
        doc = loader(text, fallback)
    if not warnings:
        return doc
    return LoadedDocument(
        title=doc.title, sections=doc.sections, warnings=(*warnings, *doc.warnings)
    )


def read_capped(path: Path, max_bytes: int) -> tuple[bytes, bool]:
    """The file's bytes, at most `max_bytes` of them (PDFs are read whole: they cannot be cut)."""
    try:
        with path.open("rb") as handle:
            if path.suffix.lower() == ".pdf":
                return handle.read(), False
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"unreadable: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        return data[:max_bytes], True
    return data, False


__all__ = ["SUPPORTED_EXTENSIONS", "is_supported", "load_bytes", "read_capped", "title_from_name"]
