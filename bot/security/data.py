"""Delimited data blocks for prompts, with every delimiter the prompt uses escaped inside them.

The prompt (`bot.core.prompt`) puts what the model should read but never obey (the summary,
thread context, knowledge passages; tool output is wrapped the same way by
`bot.tools.results`) in blocks like `<thread>…</thread>`. Text inside a block that imitates one
of our tags, or a chat-template token (`<|im_start|>`, `[INST]`, …), could otherwise close the
block early and speak as the system. `escape` turns the "<" of every such tag into "‹" (and the
template tokens' brackets likewise), which a model reads the same but which no longer delimits.
"""

from __future__ import annotations

import re

TAGS = (
    "summary",
    "thread",
    "passages",
    "passage",
    "tool_result",
    "question",
    "conversation",
    "system",
)
PASSAGE_TAGS = ("passage", "passages")
"""Neutralised inside each passage by `bot.grounding.context`, which writes the real ones."""


def _tags(tags: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"<(\s*/?\s*(?:" + "|".join(tags) + r")\b)", re.IGNORECASE)


_TAG = _tags(TAGS)
_TAG_BUT_PASSAGES = _tags(tuple(t for t in TAGS if t not in PASSAGE_TAGS))
_TEMPLATE = re.compile(r"<\|([a-z_]*)\|>|\[(/?(?:INST|SYS))\]|<<(/?SYS)>>", re.IGNORECASE)


def escape(text: str, *, passages: bool = True) -> str:
    """`text` with our tags and chat-template tokens made inert (see the module docstring);
    `passages=False` keeps <passage> tags (the knowledge context, which wrote them itself)."""
    text = (_TAG if passages else _TAG_BUT_PASSAGES).sub(r"‹\1", text)
    return _TEMPLATE.sub(_template, text)


def _template(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return f"‹|{match.group(1)}|›"
    if match.group(2) is not None:
        return f"⟦{match.group(2)}⟧"
    return f"‹‹{match.group(3)}››"


def block(tag: str, body: str) -> str:
    """`body` (escaped) inside `<tag>…</tag>`."""
    return f"<{tag}>\n{escape(body)}\n</{tag}>"
