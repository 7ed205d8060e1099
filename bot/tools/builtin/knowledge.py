"""`search_knowledge`: the conversation's view of the knowledge base (its scopes only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.ports import Retriever, scopes_for
from bot.tools.registry import Risk, Tool, ToolContext


def search_knowledge_tool(retriever: Retriever, *, limit: int = 5) -> Tool:
    async def run(args: Mapping[str, Any], ctx: ToolContext) -> str:
        count = int(args.get("limit") or limit)
        passages = await retriever.retrieve(
            str(args["query"]), scopes=scopes_for(ctx.ref), limit=count
        )
        if not passages:
            return "No matching passages in the knowledge base."
        parts = []
        for number, p in enumerate(passages, 1):
            where = f"{p.title} — {p.source}" + (f" § {p.section}" if p.section else "")
            parts.append(f"[{number}] {where}\n{p.text}")
        return "\n\n".join(parts)

    return Tool(
        name="search_knowledge",
        description="Search the team's knowledge base and return the best matching passages "
        "with their titles and sources.",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 500},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
        run=run,
        risk=Risk.READ,
        timeout_s=15.0,
        max_output_chars=8_000,
        status="Searching the knowledge base…",
    )
