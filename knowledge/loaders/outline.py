"""Plain text: find the headings and entries a text file has, so each chunk knows what it is about.

How it works: plain text has no markup, but reference text keeps its structure in layout. Lines are
read once, top to bottom, and each is one of:

- a *document heading*, of one of three styles: a title underlined with a run of one character
  (`Usage` over `=====`, as in info manuals and READMEs), a numbered title (`2.1 Options`), or an
  ALL-CAPS title at the left margin (`OPTIONS`, as in man pages and pydoc). As in reStructuredText,
  levels go by the order in which each style is first seen; a new heading closes every open heading
  of its level or deeper.
- an *entry*: one to three short lines at some indentation followed at once (no blank line) by a
  more indented description, or an option with its description on the same line after a gap
  (`-t     sort by time`) — a man page option (`-i, --ignore-case` over its text), a pydoc
  function (`dumps(obj, *, ...)`), a man page subsection (`   Matching Control`) or an info
  definition term. Entries nest by indentation below the document headings; the term lines stay in
  the entry's text (they are its signature) and name it in the heading path.
- body text: it belongs to the innermost open heading; a body line at or left of an open entry's
  indentation closes that entry (the entry's description is over).

The result is one `Section` per heading or entry with its path (`OPTIONS > Matching Control >
-i, --ignore-case`) and its own text, dedented. pydoc's ` |  ` class-body rails count as
indentation and are removed. A file with none of this comes back as one section, as before.
Hand-written: the libraries that parse text structure (docutils, markdown-it) need markup; none
reads the layout conventions of plain-text reference pages.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from knowledge.documents import LoadedDocument, Section

_UNDERLINE = re.compile(r"^ {0,3}([=\-~*^#+.`_])\1{2,} *$")
_NUMBERED = re.compile(r"^ ?(\d{1,2}(?:\.\d{1,2})*)\.? +([A-Z(`'\"‘].{0,70})$")
_TAGGED = re.compile(r"^ *(-{1,2}[^\s,]+(?:,? -{1,2}[^\s,]+)*) {2,}\S")
"""An option and its description on one line: `-t     sort by time, newest first`."""
_RAILS = re.compile(r"^(?: *\|(?=  |\s*$))+")
"""pydoc's class-body rail: `|` followed by two spaces or nothing (repeated for nested classes)."""
_MAX_TERM = 200
_MAX_TERM_LINES = 3
_DOC_RANK_LIMIT = 1000
"""Entry ranks are this plus their indentation, so entries always nest inside document headings."""


@dataclass(slots=True)
class _Open:
    rank: int
    title: str
    indent: int | None
    """Indentation of an entry's term; None for a document heading."""
    lines: list[str] = field(default_factory=list)
    flushed: bool = False
    """Some of its text is already emitted (the rest follows a nested entry)."""

    @property
    def entry(self) -> bool:
        return self.indent is not None


def _indent_and_text(line: str) -> tuple[int, str]:
    """(indentation, line with pydoc rails turned into spaces)."""
    rails = _RAILS.match(line)
    if rails:
        line = " " * rails.end() + line[rails.end() :]
    stripped = line.lstrip(" ")
    return len(line) - len(stripped), line


def _is_caps_heading(text: str, indent: int) -> bool:
    stripped = text.strip()
    letters = [ch for ch in stripped if ch.isalpha()]
    return (
        indent == 0
        and 2 <= len(stripped) <= 60
        and len(letters) >= 2
        and all(not ch.islower() for ch in letters)
        and not stripped.endswith((".", ",", ";"))
    )


def _is_term(text: str) -> bool:
    stripped = text.strip()
    return 0 < len(stripped) <= _MAX_TERM and not stripped.endswith((":", ",", ";"))


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = [_indent_and_text(line) for line in lines]
        self.styles: list[tuple[str, str]] = []
        self.stack: list[_Open] = []
        self.root: list[str] = []
        self.sections: list[Section] = []
        self.boundary = 0
        """Index of the line right after the last heading or term: it may start an entry."""

    def blank(self, i: int) -> bool:
        return i < 0 or i >= len(self.lines) or not self.lines[i][1].strip()

    def heading_at(self, i: int) -> tuple[tuple[str, str], str, int] | None:
        """(style, title, lines used) when a document heading starts at line i."""
        indent, text = self.lines[i]
        if not self.blank(i - 1) or not text.strip() or indent > 3:
            return None
        nxt = self.lines[i + 1][1] if i + 1 < len(self.lines) else ""
        title = " ".join(text.split())
        under = _UNDERLINE.match(nxt)
        if under and not _UNDERLINE.match(text) and len(nxt.strip()) >= 0.6 * len(title):
            return ("underline", under.group(1)), title, 2
        if not self.blank(i + 1) and self.lines[i + 1][0] <= indent:
            return None  # a line of a paragraph, not a title
        numbered = _NUMBERED.match(text)
        if numbered and self.blank(i + 1) and not title.endswith((".", ",", ";", ":")):
            depth = numbered.group(1).count(".") + 1
            return ("numbered", str(depth)), title, 1
        if _is_caps_heading(text, indent):
            return ("caps", ""), title, 1
        return None

    def term_at(self, i: int) -> int:
        """How many lines (1-3) of a term start an entry at line i, or 0."""
        if not self.blank(i - 1) and i != self.boundary:
            return 0
        indent = self.lines[i][0]
        if _TAGGED.match(self.lines[i][1]):
            return 1
        for count in range(1, _MAX_TERM_LINES + 1):
            at = i + count - 1
            if at >= len(self.lines) or self.blank(at) or self.lines[at][0] != indent:
                return 0
            if not _is_term(self.lines[at][1]):
                return 0
            if not self.blank(at + 1) and self.lines[at + 1][0] >= indent + 2:
                return count
        return 0

    def close(self, rank: int) -> None:
        while self.stack and self.stack[-1].rank >= rank:
            self.flush()
            self.stack.pop()

    def flush(self) -> None:
        """Emit what the innermost open heading holds so far (its text before a child, or all)."""
        lines = self.stack[-1].lines if self.stack else self.root
        text = textwrap.dedent("\n".join(lines)).strip("\n")
        if text.strip():
            top = self.stack[-1] if self.stack else None
            titled = top is not None and top.entry and not top.flushed
            self.sections.append(
                Section(headings=tuple(o.title for o in self.stack), text=text, titled=titled)
            )
            if top is not None:
                top.flushed = True
        lines.clear()

    def open(self, item: _Open) -> None:
        self.flush()
        self.stack.append(item)

    def body(self, text: str) -> None:
        (self.stack[-1].lines if self.stack else self.root).append(text)

    def read(self) -> list[Section]:
        i = 0
        while i < len(self.lines):
            indent, text = self.lines[i]
            heading = self.heading_at(i)
            if heading is not None:
                style, title, used = heading
                if style not in self.styles:
                    self.styles.append(style)
                rank = self.styles.index(style)
                self.close(rank)
                self.open(_Open(rank=rank, title=title, indent=None))
                i += used
                self.boundary = i
                continue
            if not text.strip():
                self.body("")
                i += 1
                continue
            # a body or term line ends every open entry at or right of its indentation
            while self.stack and self.stack[-1].entry and (self.stack[-1].indent or 0) >= indent:
                self.flush()
                self.stack.pop()
            term = self.term_at(i)
            if term:
                tagged = _TAGGED.match(self.lines[i][1])
                title = (
                    tagged.group(1)
                    if tagged
                    else ", ".join(" ".join(t.split()) for _, t in self.lines[i : i + term])
                )
                entry = _Open(rank=_DOC_RANK_LIMIT + indent, title=title, indent=indent)
                self.open(entry)
                entry.lines.extend(t for _, t in self.lines[i : i + term])
                i += term
                self.boundary = i
                continue
            self.body(text)
            i += 1
        self.close(0)
        self.flush()
        return self.sections


def outline_sections(text: str) -> list[Section]:
    """Sections of a plain-text document by its headings and indented entries, in order."""
    lines = text.expandtabs(8).replace("\f", "\n").split("\n")
    return _Reader(lines).read()


def _name_line(sections: list[Section]) -> str | None:
    """A man page's or pydoc page's one-line NAME section (`ls - list directory contents`)."""
    for section in sections[:3]:
        if section.headings == ("NAME",) and "\n" not in section.text.strip():
            line = " ".join(section.text.split())
            return line if len(line) <= 120 else None
    return None


def load_outlined(text: str, fallback_title: str) -> LoadedDocument:
    """Plain text split into sections by its layout (see the module docstring); titled by its
    NAME line when it has one, else by the file name."""
    sections = outline_sections(text)
    return LoadedDocument(title=_name_line(sections) or fallback_title, sections=tuple(sections))
