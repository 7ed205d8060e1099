"""Answer [n] markers → Citations; markers that point to no passage are removed.

Markers are `[n]`, `[1, 3]` and runs like `[1][2]`, outside code: fenced blocks and inline code
are left alone, and so is `name[1]` (an index, not a citation). A dangling marker is removed with
the spacing around it tidied ("see [9]." → "see.", "a [9] b" → "a b"). Citations come back in
number order, one per cited passage, with its title, source and section; numbers are not changed,
so the text's markers and the citations agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.grounding.context import NumberedPassage
from bot.messages import Citation

_CODE = re.compile(r"(```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`)", re.DOTALL)
_RUN = re.compile(r"(?<![\w)\]])((?:\[\s*\d+(?:\s*,\s*\d+)*\s*\])+)")
_GONE = "\x00"


def _prose(text: str, valid: set[int], cited: list[int]) -> str:
    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        kept = list(dict.fromkeys(n for n in numbers if n in valid))
        cited.extend(n for n in kept if n not in cited)
        return "".join(f"[{n}]" for n in kept) if kept else _GONE

    text = _RUN.sub(replace, text)
    if _GONE not in text:
        return text
    text = re.sub(rf"[ \t]*{_GONE}+[ \t]*(?=[.,;:!?)])", "", text)
    text = re.sub(rf"(?<=\S)[ \t]*{_GONE}+[ \t]*(?=\S)", " ", text)
    return re.sub(rf"[ \t]*{_GONE}+[ \t]*", "", text)


def resolve_citations(
    answer_text: str, numbered_passages: Sequence[NumberedPassage]
) -> tuple[str, tuple[Citation, ...]]:
    """(answer with only valid markers, citations of the passages it cites)."""
    by_number = {n.number: n.passage for n in numbered_passages}
    valid = set(by_number)
    cited: list[int] = []
    pieces: list[str] = []
    last = 0
    for code in _CODE.finditer(answer_text):
        pieces.append(_prose(answer_text[last : code.start()], valid, cited))
        pieces.append(code.group(0))
        last = code.end()
    pieces.append(_prose(answer_text[last:], valid, cited))
    citations = tuple(
        Citation(
            number=n,
            title=by_number[n].title,
            source=by_number[n].source,
            section=by_number[n].section,
        )
        for n in sorted(cited)
    )
    return "".join(pieces), citations
