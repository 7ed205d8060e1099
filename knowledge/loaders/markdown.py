"""Markdown: ATX and setext headings outside code fences, YAML front matter title."""

from __future__ import annotations

import re

from knowledge.documents import FENCE, LoadedDocument, Section, closes_fence

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FRONT_TITLE = re.compile(r"^title:\s*[\"']?(.*?)[\"']?\s*$", re.MULTILINE)


def _front_matter(text: str) -> tuple[str | None, str]:
    if not text.startswith("---\n"):
        return None, text
    end = text.find("\n---", 4)
    if end < 0:
        return None, text
    header = text[4:end]
    match = _FRONT_TITLE.search(header)
    rest = text[end + 4 :].lstrip("-").lstrip("\n")
    return (match.group(1).strip() if match else None), rest


def load_markdown(text: str, fallback_title: str) -> LoadedDocument:
    front_title, text = _front_matter(text)
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    body: list[str] = []
    fence: str | None = None
    first_h1: str | None = None

    def flush() -> None:
        if "".join(body).strip():
            sections.append(
                Section(headings=tuple(h for _, h in stack), text="\n".join(body).strip("\n"))
            )
        body.clear()

    def open_heading(level: int, title: str) -> None:
        nonlocal first_h1
        flush()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        if level == 1 and first_h1 is None:
            first_h1 = title

    for line in text.split("\n"):
        fence_match = FENCE.match(line)
        if fence is not None:
            body.append(line)
            if closes_fence(fence, fence_match):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx and atx.group(2):
            open_heading(len(atx.group(1)), atx.group(2))
            continue
        setext = _SETEXT.match(line)
        if setext and body and body[-1].strip() and not FENCE.match(body[-1]):
            title = body.pop().strip()
            open_heading(1 if setext.group(1)[0] == "=" else 2, title)
            continue
        body.append(line)
    flush()
    return LoadedDocument(title=front_title or first_h1 or fallback_title, sections=tuple(sections))
