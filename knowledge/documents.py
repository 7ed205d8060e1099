"""Value objects (and the code-fence rule) shared by loaders, the chunker and the indexer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
"""A Markdown code-fence line; loaders and the chunker both keep fenced code whole."""


def closes_fence(fence: str, match: re.Match[str] | None) -> bool:
    """Whether a FENCE `match` closes the block `fence` opened: same character, at least as long."""
    return match is not None and match[1][0] == fence[0] and len(match[1]) >= len(fence)


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A run of text under one heading path (a page, for PDFs)."""

    headings: tuple[str, ...]
    """Heading path from the top, e.g. ("Setup", "Slack"); empty before the first heading."""
    text: str
    titled: bool = False
    """The text opens with its own last heading (an entry's signature line, e.g. `dumps(obj)`), so
    it needs no heading line added when it shares a chunk with its neighbours."""

    @property
    def path(self) -> str:
        return " > ".join(self.headings)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedDocument:
    """What a loader extracts from one file."""

    title: str
    sections: tuple[Section, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One piece of a document as it is embedded and stored."""

    doc_id: str
    source: str
    """Path shown to users (relative to the working directory when inside it) or URL."""
    title: str
    section: str
    """Heading path joined with " > "."""
    index: int
    """Position of the chunk within its document, from 0."""
    text: str
    content_hash: str
    """Hash of the document version this chunk came from."""
    scopes: tuple[str, ...] = field(default=("public",))
    lead: str = ""
    """End of the previous piece when a long section was cut: embedded, never stored or shown."""

    def embedding_text(self) -> str:
        """Text given to the embedders: title and heading path help the chunk stand on its own
        (and a cut piece gets the end of the one before it); the stored text is `text` alone."""
        head = " — ".join(part for part in (self.title, self.section) if part)
        body = f"{self.lead} … {self.text}" if self.lead else self.text
        return f"{head}\n{body}" if head else body
