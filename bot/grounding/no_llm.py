"""The answer when no language model is configured: the best passages, quoted and cited."""

from __future__ import annotations

from collections.abc import Sequence

from bot.ports import Passage

MAX_QUOTED = 3
QUOTE_CHARS = 700
ADD_DOCUMENTS = (
    "Add documents with `python -m bot kb reindex PATH` (or list them in KNOWLEDGE_PATHS)"
)
KEYS = (
    "set OPENAI_API_KEY or ANTHROPIC_API_KEY (or OPENAI_BASE_URL for a local "
    "OpenAI-compatible server)"
)
ADD_KEY = f"{KEYS} for written answers"


def _quote(text: str) -> str:
    text = text.strip()
    if len(text) > QUOTE_CHARS:
        cut = text[:QUOTE_CHARS]
        text = (cut[: cut.rfind(" ")] if " " in cut[-100:] else cut) + " …"
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))


def answer_without_llm(
    query: str, passages: Sequence[Passage], *, knowledge_empty: bool = False
) -> str:
    """Markdown for no-LLM mode; passages are cited [1]…[n] in the order given (best first)."""
    if knowledge_empty:
        return (
            "No language model is configured, and the knowledge base is empty, so I can't "
            f"answer yet. {ADD_DOCUMENTS}, and {ADD_KEY}."
        )
    if not passages:
        subject = " ".join(query.split())
        subject = subject if len(subject) <= 80 else subject[:77] + "…"
        return (
            "No language model is configured, and the knowledge base has nothing on "
            f"“{subject}”. {ADD_DOCUMENTS}, and {ADD_KEY}."
        )
    parts = ["No language model is configured, so here is what the knowledge base says:"]
    for number, passage in enumerate(passages[:MAX_QUOTED], start=1):
        where = passage.title or passage.source
        if passage.section and passage.section != passage.title:
            where += f" › {passage.section}"
        parts.append(f"{_quote(passage.text)}\n— {where} [{number}]")
    parts.append(f"For answers written from these passages, {KEYS}.")
    return "\n\n".join(parts)
