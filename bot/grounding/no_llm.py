"""The answer when no language model is configured: the best passages, quoted and cited.

How the quotes are made clean (chunks overlap and are cut by size, so raw ones start and end
mid-sentence and neighbours repeat each other):
 1. passages of the same document section are merged into one quote: a passage contained in
    another is dropped; two that overlap (a suffix of one is a prefix of the other, as adjacent
    chunks do) are joined once; others of the section follow after a `…` line;
 2. a quote that starts mid-sentence (lower-case or punctuation first) starts at the next
    sentence or line instead; one that is too long or ends mid-sentence is cut at the last
    sentence or line end that fits; a cut is marked with `…`;
 3. the label is the title, then the section's headings without the ones that repeat the title
    (a Markdown file's `# Slack` is both its title and its first heading), joined by ` › `;
 4. no scores: fused rank scores mean nothing to a reader, and the order already says which
    quote matched best.
A merged quote cites its best passage's number, so numbers can skip (`[1]`, `[3]`): each still
names the passage `resolve_citations` turns into that citation. Written by hand because it is
about a page of string rules no library states this way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.ports import Passage

MAX_QUOTED = 3
QUOTE_CHARS = 700
MIN_OVERLAP = 20
"""Characters a suffix/prefix must share to count as the chunker's overlap."""
ADD_DOCUMENTS = (
    "Add documents with `python -m bot kb reindex PATH` (or list them in KNOWLEDGE_PATHS)"
)
KEYS = (
    "set OPENAI_API_KEY or ANTHROPIC_API_KEY (or OPENAI_BASE_URL for a local "
    "OpenAI-compatible server)"
)
ADD_KEY = f"{KEYS} for written answers"
ELLIPSIS = "…"
_SENTENCE_END = re.compile(r"(?<=[.!?:;])[\"')\]]*(?=\s)|\n")
_MID_SENTENCE = re.compile(r"^[a-z,;:)\]]")


@dataclass
class _Quote:
    number: int
    passage: Passage
    pieces: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        text = text.strip()
        for i, piece in enumerate(self.pieces):
            if text in piece:
                return
            if piece in text:
                self.pieces[i] = text
                return
            joined = _join(piece, text) or _join(text, piece)
            if joined is not None:
                self.pieces[i] = joined
                return
        self.pieces.append(text)


def _join(first: str, second: str) -> str | None:
    """`first` + `second` without their shared part, when `second` starts with `first`'s end."""
    longest = min(len(first), len(second))
    for size in range(longest, MIN_OVERLAP - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return None


def _clean_start(text: str) -> str:
    if not _MID_SENTENCE.match(text) or text.startswith(("`", "    ")):
        return text
    boundary = _SENTENCE_END.search(text, 0, min(len(text), QUOTE_CHARS // 2))
    if boundary is None or not text[boundary.end() :].strip():
        return f"{ELLIPSIS} {text}"
    return f"{ELLIPSIS} {text[boundary.end() :].lstrip()}"


def _clean_end(text: str, limit: int) -> str:
    ends_cleanly = text.rstrip()[-1:] in ".!?:;\"')]`" or text.rstrip().endswith("```")
    if len(text) <= limit and ends_cleanly:
        return text
    window = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    ends = [e for e in ends if e >= min(limit, len(text)) // 3]  # keep most of the text
    if ends:
        cut = window[: ends[-1]].rstrip()
    elif len(text) <= limit:
        return text  # one long sentence that simply stops: nothing better to cut at
    else:
        cut = window[: window.rfind(" ")] if " " in window[-100:] else window
    return f"{cut.rstrip()} {ELLIPSIS}"


def _blockquote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def label(passage: Passage) -> str:
    """`Title › Section › Subsection`, without headings that repeat the title."""
    title = passage.title.strip() or passage.source
    headings = [h.strip() for h in re.split(r"\s+[>›]\s+", passage.section) if h.strip()]
    while headings and headings[0].casefold() == title.casefold():
        headings.pop(0)
    return " › ".join([title, *headings])


def quotes(passages: Sequence[Passage]) -> list[tuple[int, str, str]]:
    """(citation number, label, quoted markdown) for up to MAX_QUOTED clean quotes."""
    merged: dict[tuple[str, str], _Quote] = {}
    for number, passage in enumerate(passages, start=1):
        key = (passage.source, passage.section)
        if key not in merged:
            if len(merged) == MAX_QUOTED:
                continue
            merged[key] = _Quote(number, passage)
        merged[key].add(passage.text)
    out = []
    for quote in merged.values():
        pieces = [p for p in quote.pieces if p]
        if not pieces:
            continue
        text = f"\n\n{ELLIPSIS}\n\n".join(_clean_start(p) for p in pieces)
        out.append((quote.number, label(quote.passage), _blockquote(_clean_end(text, QUOTE_CHARS))))
    return out


def answer_without_llm(
    query: str, passages: Sequence[Passage], *, knowledge_empty: bool = False
) -> str:
    """Markdown for no-LLM mode; quotes cite their passages' numbers in the order given."""
    if knowledge_empty:
        return (
            "No language model is configured, and the knowledge base is empty, so I can't "
            f"answer yet. {ADD_DOCUMENTS}, and {ADD_KEY}."
        )
    found = quotes(passages)
    if not found:
        subject = " ".join(query.split())
        subject = subject if len(subject) <= 80 else subject[:77] + ELLIPSIS
        return (
            "No language model is configured, and the knowledge base has nothing on "
            f"“{subject}”. {ADD_DOCUMENTS}, and {ADD_KEY}."
        )
    parts = ["No language model is configured, so here is what the knowledge base says:"]
    parts.extend(f"{quoted}\n— {where} [{number}]" for number, where, quoted in found)
    parts.append(f"For answers written from these passages, {KEYS}.")
    return "\n\n".join(parts)
