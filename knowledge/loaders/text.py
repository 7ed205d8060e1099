"""Plain text and reStructuredText."""

from __future__ import annotations

import re

from knowledge.documents import LoadedDocument, Section
from knowledge.errors import DocumentError

_BINARY_SAMPLE = 8192
_RST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Latin-1; binary content is refused."""
    sample = data[:_BINARY_SAMPLE]
    if b"\x00" in sample:
        raise DocumentError("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        controls = sum(1 for ch in text[:_BINARY_SAMPLE] if ord(ch) < 32 and ch not in "\t\n\r\f")
        if controls > len(text[:_BINARY_SAMPLE]) // 20:
            raise DocumentError("binary file (not valid text in UTF-8 or Latin-1)") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_plain(text: str, fallback_title: str) -> LoadedDocument:
    return LoadedDocument(title=fallback_title, sections=(Section(headings=(), text=text),))


def load_rst(text: str, fallback_title: str) -> LoadedDocument:
    """Sections from underlined (optionally overlined) titles; levels in order of first use."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    body: list[str] = []
    i = 0

    def flush() -> None:
        if "".join(body).strip():
            sections.append(
                Section(headings=tuple(h for _, h in stack), text="\n".join(body).strip())
            )
        body.clear()

    while i < len(lines):
        over = (
            bool(_RST_ADORNMENT.match(lines[i]))
            and i + 2 < len(lines)
            and bool(_RST_ADORNMENT.match(lines[i + 2]))
            and lines[i + 1].strip() != ""
        )
        title_at = i + 1 if over else i
        under_at = title_at + 1
        if (
            under_at < len(lines)
            and lines[title_at].strip()
            and not _RST_ADORNMENT.match(lines[title_at])
            and _RST_ADORNMENT.match(lines[under_at])
            and len(lines[under_at].rstrip()) >= len(lines[title_at].strip())
        ):
            style = (lines[under_at].strip()[0], over)
            if style not in styles:
                styles.append(style)
            level = styles.index(style)
            flush()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, lines[title_at].strip()))
            i = under_at + 1
            continue
        body.append(lines[i])
        i += 1
    flush()
    title = next((s.headings[0] for s in sections if s.headings), fallback_title)
    return LoadedDocument(title=title, sections=tuple(sections))
