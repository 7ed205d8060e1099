"""Where a long reply is cut into platform-sized messages. Pure functions, no I/O.

How this works
--------------
`cut(text, limit)` chooses one cut position `p` in `text[:limit]` and returns the head that
ends the current message plus what the next message must start with. Boundaries are tried in
order: paragraph (after a blank line), line, sentence (after ". ", "! ", "? "), word (after a
space), and only then a hard cut. Each kind is first looked for in the back half of the window
(so a message is not ended after a few characters just because a paragraph ended there), then
anywhere in it.

Code fences are never left open. Fences (``` or ~~~ lines, CommonMark style) are found by a line
scan; a cut that falls inside one closes it at the end of the head ("\\n```") and returns the
opener line ("```python\\n") as `reopen`, which the caller puts at the start of the next part, so
every part renders as balanced markdown with the same language. Cuts inside the opener line,
right after it (an empty block) or inside/at the closing line are not allowed.

The choice depends only on `text[:limit]`. So while a streamed reply grows, the cut made when
it first passed the limit is the same cut a split of the final text would make: the streaming
path and the final path agree, and nothing is sent twice or lost.

`split_text(text, limit)` applies `cut` until the rest fits and returns the `Part`s; joining
every part's `body` gives back the original text exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SENTENCE_ENDS = frozenset(".!?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Cut:
    head: str
    """The text for the message that ends here (a closing fence line added when needed)."""
    taken: int
    """How many characters of the input `head` covers (without the added closing fence)."""
    reopen: str
    """What the next part starts with: the fence opener line to reopen, or ""."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    reopen: str
    """An added fence opener line that continues a code block from the part before ("" if none)."""
    body: str
    """A slice of the original text; the bodies of all parts join to the original."""
    close: str
    """An added closing fence line ("" if none)."""

    @property
    def text(self) -> str:
        return self.reopen + self.body + self.close


@dataclass(frozen=True, slots=True)
class _Fence:
    start: int
    """Where the opener line starts."""
    body_start: int
    """Just after the opener line's newline."""
    close_start: int
    """Where the closing line starts (len(text) + 1 when unclosed in view)."""
    close_end: int
    opener: str
    """The opener line without indentation, e.g. "```python"."""
    marker: str
    """The run of fence characters to close with, e.g. "```"."""


def _fences(text: str) -> list[_Fence]:
    fences: list[_Fence] = []
    pos = 0
    open_at: tuple[int, int, str, str] | None = None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        match = _FENCE.match(bare)
        if match:
            run, info = match.group(1), match.group(2)
            if open_at is None:
                if not (run[0] == "`" and "`" in info):
                    open_at = (pos, pos + len(line), bare.lstrip(" "), run)
            elif run[0] == open_at[3][0] and len(run) >= len(open_at[3]) and not info.strip():
                fences.append(
                    _Fence(open_at[0], open_at[1], pos, pos + len(bare), open_at[2], open_at[3])
                )
                open_at = None
        pos += len(line)
    if open_at is not None:
        end = len(text) + 1
        fences.append(_Fence(open_at[0], open_at[1], end, end, open_at[2], open_at[3]))
    return fences


def _fence_at(fences: list[_Fence], p: int) -> _Fence | bool | None:
    """The fence a cut at `p` falls inside, None if outside, False if the cut is not allowed."""
    for fence in fences:
        if fence.start < p <= fence.body_start or fence.close_start <= p < fence.close_end:
            return False
        if fence.body_start < p < fence.close_start:
            return fence
    return None


def _kind(text: str, p: int, inside: bool) -> int:
    """0 paragraph, 1 line, 2 sentence, 3 word, 4 anything else."""
    before = text[p - 1]
    if before == "\n":
        return 0 if not inside and p >= 2 and text[p - 2] == "\n" else 1
    if before in " \t":
        return 2 if p >= 2 and text[p - 2] in _SENTENCE_ENDS else 3
    return 4


def cut(text: str, limit: int, *, keep: int = 0) -> Cut:
    """Cut `text` (longer than `limit`) at the best boundary within `limit` characters.

    `keep` is a prefix (a reopened fence) that the head must go past, so every cut makes progress.
    """
    window = text[: limit + 1]
    fences = _fences(window)
    best: list[tuple[int, Cut] | None] = [None] * 5
    floor = max(keep + 1, limit // 2)
    for p in range(min(limit, len(text) - 1), keep, -1):
        fence = _fence_at(fences, p)
        if fence is False:
            continue
        if isinstance(fence, _Fence):
            head = text[:p] + ("" if text[p - 1] == "\n" else "\n") + fence.marker
            if len(head) > limit:
                continue
            candidate = Cut(head=head, taken=p, reopen=fence.opener + "\n")
        else:
            candidate = Cut(head=text[:p], taken=p, reopen="")
        kind = _kind(text, p, isinstance(fence, _Fence))
        if best[kind] is None:
            best[kind] = (p, candidate)
            if kind == 0 and p >= floor:
                break
    for least in (floor, keep + 1):
        for found in best:
            if found is not None and found[0] >= least:
                return found[1]
    # Nothing fence-safe fits (a tiny limit): a plain hard cut still makes progress.
    p = max(keep + 1, min(limit, len(text) - 1))
    return Cut(head=text[:p], taken=p, reopen="")


def split_text(text: str, limit: int) -> list[Part]:
    """Split `text` into parts of at most `limit` characters each (see the module docstring)."""
    parts: list[Part] = []
    reopen, rest = "", text
    while len(reopen) + len(rest) > limit:
        piece = cut(reopen + rest, limit, keep=len(reopen))
        taken = piece.taken - len(reopen)
        body = rest[:taken]
        parts.append(Part(reopen=reopen, body=body, close=piece.head[len(reopen) + len(body) :]))
        reopen, rest = piece.reopen, rest[taken:]
    parts.append(Part(reopen=reopen, body=rest, close=""))
    return parts


def close_open_fence(text: str) -> str:
    """`text` with a closing fence line added if it ends inside a code block."""
    fences = _fences(text)
    if fences and fences[-1].close_start > len(text):
        return text + ("" if text.endswith("\n") else "\n") + fences[-1].marker
    return text
