"""Grounding helpers the conversation core calls: pure functions, no knowledge-base imports.

    context, numbered = build_context(passages, settings.budget_knowledge_tokens)
    ... put `context` in the prompt, stream the answer ...
    text, citations = resolve_citations(answer, numbered)
    OutgoingMessage(text_markdown=text, citations=citations)

With no LLM configured: `answer_without_llm(query, passages)`, then `resolve_citations` on it
with `number_passages(passages)` to get the citations.
"""

from bot.grounding.citations import resolve_citations
from bot.grounding.context import NumberedPassage, build_context, estimate_tokens, number_passages
from bot.grounding.no_llm import answer_without_llm

__all__ = [
    "NumberedPassage",
    "answer_without_llm",
    "build_context",
    "estimate_tokens",
    "number_passages",
    "resolve_citations",
]
