"""Injection patterns in documents at ingest: what a knowledge document should never need to say.

A document is data the model reads; text in it that addresses the model (orders to ignore the
instructions, a new role, a chat template's control tokens, the tags that delimit our prompt's
data blocks, invisible characters that hide text from a reader) is either an attack planted in a
wiki page or a document about prompts. Either way an admin should look, so the indexer flags it:
`scan` names the patterns found, the document record keeps them, and `kb status` lists the
flagged documents. Flagging changes nothing else: the prompt escapes every delimiter anyway
(`bot.security.data`), and a document about prompt injection is still worth retrieving.

Hand-written regular expressions rather than a classifier library: the packages that exist
(model-based detectors) need a model download and seconds per document, while these are the few
literal shapes the prompt itself would be broken by, checked in microseconds per page.
"""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "instruction override",
        re.compile(
            r"\b(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+)*"
            r"(previous|prior|above|earlier|preceding|system)\s+"
            r"(instructions?|prompts?|rules|directions|messages?)",
            re.IGNORECASE,
        ),
    ),
    (
        "role change",
        re.compile(
            r"\b(you\s+are\s+now|from\s+now\s+on\s+you\s+are|new\s+instructions\s*:"
            r"|act\s+as\s+(an?\s+)?(unrestricted|jailbroken|developer\s+mode))",
            re.IGNORECASE,
        ),
    ),
    (
        "chat template token",
        re.compile(r"<\|(im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>"),
    ),
    (
        "prompt delimiter",
        # not <summary>: Markdown's <details><summary> is everyday HTML
        re.compile(r"</?\s*(passages?|thread|tool_result|system)\s*>", re.IGNORECASE),
    ),
    (
        "hidden characters",
        # bidi overrides, Unicode tag characters (invisible "ASCII smuggling"), runs of
        # zero-width spaces; not a lone ZWJ or LRM, which emoji and right-to-left text use
        re.compile("[\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]|\u200b{2,}"),
    ),
)


def scan(text: str) -> tuple[str, ...]:
    """The names of the injection patterns found in `text`, in a fixed order; () when clean."""
    return tuple(name for name, pattern in _PATTERNS if pattern.search(text))
