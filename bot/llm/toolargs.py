"""Tool-call arguments as the models send them: a JSON object in a string, maybe malformed."""

from __future__ import annotations

import json
from typing import Any

from bot.llm.types import ToolCall


def parse_arguments(raw: str) -> dict[str, Any] | None:
    """The JSON object in `raw` (`{}` for an empty string), or None when it is not one."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def make_tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    """A whole ToolCall; invalid JSON gives `arguments={}` and keeps `raw_arguments`."""
    parsed = parse_arguments(raw)
    return ToolCall(
        id=call_id, name=name, arguments={} if parsed is None else parsed, raw_arguments=raw
    )
