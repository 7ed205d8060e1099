"""Structure-aware chunking: one chunk per heading or entry where it fits.

How it works: a document is already split into sections by its headings and, for plain text, by its
indented entries (see `loaders`). `chunk_document` makes each section its own chunk when it fits in
`size`; a longer one is cut at its own paragraphs (`split_section` with no overlap). Small
neighbours are then grouped so the index is not flooded with 60-character chunks: consecutive whole
sections join while the group stays under `group_chars` (40% of the size) and every member sits
at most one level below the group's common heading path (siblings, or a heading and its first
entries) — so a chunk is still about one thing and its path names it. A grouped member whose text
does not open with its own heading gets that heading as its first line, so the stored text still
says which part is which. A chunk's text is only its own content: overlap is not stored; a
continuation piece of a long section instead carries the end of the piece before it as `lead`, which
only the embedders see (with the title and heading path, see `Chunk.embedding_text`).

`chunk_sections` is the chunker this replaced (fixed windows with stored overlap); it stays for the
retrieval benchmark's side-by-side comparison and is not used for indexing.

`split_section`: a section's text is cut into *atoms*: paragraphs (blank-line separated) and fenced code blocks,
which stay whole. A paragraph longer than the chunk size is split recursively on the coarsest
separator that works (line, sentence, word, then characters) into pieces of `size - overlap`,
leaving room for the overlap; a code block that is too long is
split on lines and each part re-fenced, so every chunk stays valid Markdown. Atoms are then packed
greedily into chunks of at most `size` characters. Each new chunk starts with the last `overlap`
characters of the previous one (cut at a word boundary), so a sentence cut in two is whole in at
least one chunk — except after a code block, whose tail would be a broken fence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.documents import FENCE, Section, closes_fence

_SEPARATORS = ("\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True, slots=True)
class ChunkConfig:
    size: int = 1000
    overlap: int = 200
    """Legacy chunker: characters each chunk repeats from the previous one. Structure-aware
    chunker: characters of the previous piece a cut section's next piece is embedded with."""

    @property
    def group_chars(self) -> int:
        """Small neighbouring sections are grouped into one chunk up to this size (40% of `size`:
        on the retrieval benchmark, larger groups dilute an entry among its neighbours, smaller
        ones grow the index past 1.3x the previous chunker's)."""
        return self.size * 2 // 5

    def __post_init__(self) -> None:
        if self.size < 50:
            raise ValueError("chunk size must be at least 50 characters")
        if not 0 <= self.overlap < self.size // 2:
            raise ValueError("chunk overlap must be between 0 and half the chunk size")


@dataclass(frozen=True, slots=True, kw_only=True)
class Piece:
    """One chunk of a document before it is embedded."""

    headings: tuple[str, ...]
    """Heading path shared by everything in the chunk (document › section › entry)."""
    text: str
    """The chunk's own text, as stored and quoted."""
    lead: str = ""
    """End of the previous piece of the same section, for the embedders only ("" when whole)."""

    @property
    def path(self) -> str:
        return " > ".join(self.headings)


@dataclass(frozen=True, slots=True)
class _Atom:
    text: str
    joiner: str
    """What goes before this atom when it follows another in the same chunk."""
    code: bool = False


def _blocks(text: str) -> Iterable[tuple[str, bool]]:
    """Paragraphs and fenced code blocks, in order."""
    paragraph: list[str] = []
    code: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if fence is not None:
            code.append(line)
            if closes_fence(fence, match):
                yield "\n".join(code), True
                code, fence = [], None
            continue
        if match:
            if paragraph:
                yield "\n".join(paragraph), False
                paragraph = []
            fence, code = match.group(1), [line]
            continue
        if line.strip():
            paragraph.append(line)
        elif paragraph:
            yield "\n".join(paragraph), False
            paragraph = []
    if code:
        yield "\n".join(code), True  # unterminated fence: keep what there is
    if paragraph:
        yield "\n".join(paragraph), False


def _split_text(text: str, size: int, separators: tuple[str, ...] = _SEPARATORS) -> list[str]:
    """Pieces of at most `size` chars that concatenate back to `text` (separators kept)."""
    if len(text) <= size:
        return [text]
    for i, sep in enumerate(separators):
        if sep not in text:
            continue
        parts = text.split(sep)
        pieces = [p + sep for p in parts[:-1]] + [parts[-1]]
        out: list[str] = []
        current = ""
        for piece in pieces:
            if len(current) + len(piece) <= size:
                current += piece
                continue
            if current:
                out.append(current)
            if len(piece) > size:
                out.extend(_split_text(piece, size, separators[i + 1 :]))
                current = ""
            else:
                current = piece
        if current:
            out.append(current)
        return [p for p in out if p]
    return [text[j : j + size] for j in range(0, len(text), size)]


def _split_code(block: str, size: int) -> list[str]:
    lines = block.split("\n")
    opener = lines[0]
    closer = lines[-1] if len(lines) > 1 and FENCE.match(lines[-1]) else ""
    inner = "\n".join(lines[1:-1] if closer else lines[1:])
    room = max(size - len(opener) - len(closer or opener) - 2, size // 2)
    fence_close = closer.strip() or FENCE.match(opener).group(1)  # type: ignore[union-attr]
    return [f"{opener}\n{part.strip(chr(10))}\n{fence_close}" for part in _split_text(inner, room)]


def _atoms(text: str, size: int, overlap: int) -> list[_Atom]:
    atoms: list[_Atom] = []
    for block, is_code in _blocks(text):
        if len(block) <= size:
            atoms.append(_Atom(block, "\n\n", is_code))
        elif is_code:
            atoms.extend(_Atom(part, "\n\n", True) for part in _split_code(block, size))
        else:
            parts = _split_text(block, size - overlap)  # leave room for the overlap
            atoms.extend(
                _Atom(part, "\n\n" if j == 0 else "", False) for j, part in enumerate(parts)
            )
    return atoms


def _tail(text: str, overlap: int) -> str:
    if overlap <= 0 or not text:
        return ""
    if len(text) <= overlap:
        return text
    tail = text[-overlap:]
    cut = tail.find(" ")
    newline = tail.find("\n")
    if newline >= 0 and (cut < 0 or newline < cut):
        cut = newline
    return tail[cut + 1 :] if cut >= 0 else tail


def split_section(text: str, config: ChunkConfig) -> list[str]:
    """Chunks of one section's text, each at most `config.size` characters."""
    size, overlap = config.size, config.overlap
    chunks: list[str] = []
    current = ""
    last_code = False
    for atom in _atoms(text, size, overlap):
        addition = (atom.joiner if current else "") + atom.text
        if current and len(current) + len(addition) > size:
            chunks.append(current.strip())
            tail = "" if last_code or atom.code else _tail(current.strip(), overlap)
            joiner = atom.joiner or " "
            room = size - len(atom.text) - len(joiner)
            if len(tail) > room:
                tail = _tail(tail, room) if room > 0 else ""
            current = (tail + joiner + atom.text) if tail else atom.text
        else:
            current += addition
        last_code = atom.code
    if current.strip():
        chunks.append(current.strip())
    return chunks


def chunk_sections(sections: Iterable[Section], config: ChunkConfig) -> list[tuple[str, str]]:
    """(section path, chunk text) for every chunk of a document, in order."""
    out: list[tuple[str, str]] = []
    for section in sections:
        out.extend((section.path, piece) for piece in split_section(section.text, config) if piece)
    return out


def _common(paths: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    paths = list(paths)
    first = paths[0]
    n = 0
    while n < len(first) and all(len(p) > n and p[n] == first[n] for p in paths):
        n += 1
    return first[:n]


@dataclass(slots=True)
class _Group:
    members: list[Section]

    def path(self, extra: Section | None = None) -> tuple[str, ...]:
        return _common(m.headings for m in [*self.members, *([extra] if extra else [])])

    def text(self) -> str:
        if len(self.members) == 1:
            return self.members[0].text
        common = len(self.path())
        parts = []
        for m in self.members:
            own = m.headings[common:]
            head = own[-1] if own and not m.titled else ""
            parts.append(f"{head}\n{m.text}" if head else m.text)
        return "\n\n".join(parts)

    def accepts(self, section: Section, limit: int) -> bool:
        common = len(self.path(section))
        if any(len(m.headings) - common > 1 for m in [*self.members, section]):
            return False
        return len(_Group([*self.members, section]).text()) <= limit


def chunk_document(sections: Iterable[Section], config: ChunkConfig) -> list[Piece]:
    """The chunks of a document, in order (see the module docstring)."""
    whole = ChunkConfig(config.size, 0)
    out: list[Piece] = []
    group: _Group | None = None

    def close() -> None:
        nonlocal group
        if group is not None:
            out.append(Piece(headings=group.path(), text=group.text()))
            group = None

    for section in sections:
        parts = [p for p in split_section(section.text, whole) if p]
        if len(parts) == 1:
            one = Section(headings=section.headings, text=parts[0], titled=section.titled)
            if group is not None and group.accepts(one, config.group_chars):
                group.members.append(one)
            else:
                close()
                group = _Group([one])
            continue
        close()
        for j, part in enumerate(parts):
            lead = _tail(parts[j - 1], config.overlap) if j else ""
            out.append(Piece(headings=section.headings, text=part, lead=lead))
    close()
    return out
