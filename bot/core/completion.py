"""Whole-text model calls that nobody watches stream (summaries, query rewrites)."""

from __future__ import annotations

from bot.llm.types import ChatModel, LLMRequest, TextDelta


async def complete(model: ChatModel, request: LLMRequest) -> str:
    """The model's whole answer to `request`, stripped."""
    parts = [event.text async for event in model.stream(request) if isinstance(event, TextDelta)]
    return "".join(parts).strip()
