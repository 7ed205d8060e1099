"""OutgoingMessage → the parts of a Teams message activity: a pure function.

- Text: CommonMark rendered to the HTML subset Teams shows in messages (paragraphs, bold,
  italics, strike, headings, lists, links, code spans and blocks, quotes, tables) with
  markdown-it-py; raw HTML in the model's text is escaped, never passed through. `textFormat` is
  "xml", Teams' name for HTML.
- Answers carry Teams' AI label: a `https://schema.org/Message` entity with
  `additionalType: ["AIGeneratedContent"]`.
- Citations: in the same entity, Teams' own format (one `Claim` per source, `position` = the
  answer's `[n]` marker, a `DigitalDocument` appearance with a name of at most 80 chars and an
  abstract of at most 160), which Teams shows as numbered references with a hover card. That
  needs every cited number to appear as `[n]` in the text and at most 20 citations; otherwise a
  plain "Sources" block is appended to the text instead.
- Messages with actions become an Adaptive Card (`adapters.teams.cards`) with no text beside it.

`render_stream_text` is the text of a streaming chunk: the same HTML, without entities (Teams
takes the AI label and citations on the final message only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from adapters.teams.cards import card_attachment
from bot.messages import Citation, OutgoingMessage

TEXT_FORMAT = "xml"
MAX_CITATIONS = 20
NAME_CHARS = 80
ABSTRACT_CHARS = 160
AI_LABEL = "AIGeneratedContent"

_BETWEEN_TAGS = re.compile(r">\n+<")
_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamsMessage:
    """The content of one message activity (the transport adds addressing)."""

    text: str
    text_format: str = TEXT_FORMAT
    attachments: tuple[dict[str, Any], ...] = ()
    entities: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "text": self.text,
            "textFormat": self.text_format,
        }
        if self.attachments:
            body["attachments"] = list(self.attachments)
        if self.entities:
            body["entities"] = list(self.entities)
        return body


def render(message: OutgoingMessage, *, ai_generated: bool = True) -> TeamsMessage:
    if message.actions:
        return TeamsMessage(text="", attachments=(card_attachment(message),))
    text = message.text_markdown
    claims = citation_claims(text, message.citations)
    if message.citations and claims is None:
        text = f"{text.rstrip()}\n\n{sources_block(message.citations)}"
    entity = ai_entity(claims or ()) if ai_generated else None
    return TeamsMessage(text=to_html(text), entities=(entity,) if entity else ())


def render_stream_text(markdown: str) -> str:
    return to_html(markdown)


def to_html(markdown: str) -> str:
    """Teams HTML; the newlines markdown-it puts between tags would show as blank lines.
    (Inside code blocks every `<` is escaped, so the pattern never matches there.)"""
    return _BETWEEN_TAGS.sub("><", _md.render(markdown).strip()).replace("<br />\n", "<br>")


def ai_entity(claims: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "type": "https://schema.org/Message",
        "@type": "Message",
        "@context": "https://schema.org",
        "@id": "",
        "additionalType": [AI_LABEL],
    }
    if claims:
        entity["citation"] = list(claims)
    return entity


def citation_claims(
    text: str, citations: tuple[Citation, ...]
) -> tuple[dict[str, Any], ...] | None:
    """Teams citation claims, or None when Teams cannot show these citations natively."""
    if not citations:
        return ()
    markers = {int(n) for n in re.findall(r"\[(\d{1,3})\]", text)}
    if len(citations) > MAX_CITATIONS or any(c.number not in markers for c in citations):
        return None
    return tuple(_claim(c) for c in citations)


def _claim(citation: Citation) -> dict[str, Any]:
    appearance: dict[str, Any] = {
        "@type": "DigitalDocument",
        "name": _cut(citation.title or citation.source, NAME_CHARS),
        "abstract": _cut(
            " — ".join(part for part in (citation.section, citation.source) if part)
            or citation.title,
            ABSTRACT_CHARS,
        ),
    }
    if _is_url(citation.source):
        appearance["url"] = citation.source
    return {"@type": "Claim", "position": citation.number, "appearance": appearance}


def sources_block(citations: tuple[Citation, ...]) -> str:
    lines = ["**Sources**"]
    for c in citations:
        title = c.title or c.source
        label = f"[{title}]({c.source})" if _is_url(c.source) else f"{title} (`{c.source}`)"
        section = f" — {c.section}" if c.section else ""
        lines.append(f"{c.number}. {label}{section}")
    return "\n".join(lines)


def _is_url(source: str) -> bool:
    return source.startswith(("https://", "http://"))


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
