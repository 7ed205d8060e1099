"""Heading-aware recursive chunking.

How it works: a document is already split into sections by its headings (see `loaders`); each
section is chunked on its own, so a chunk never straddles two sections and carries its heading path.
A section's text is cut into *atoms*: paragraphs (blank-line separated) and fenced code blocks,
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

    def __post_init__(self) -> None:
        if self.size < 50:
            raise ValueError("chunk size must be at least 50 characters")
        if not 0 <= self.overlap < self.size // 2:
            raise ValueError("chunk overlap must be between 0 and half the chunk size")


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
