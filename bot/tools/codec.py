"""JSON-safe encoding of the LLM messages a paused turn needs to resume."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from bot.llm.types import ChatMessage, Role, ToolCall


def encode_messages(messages: Iterable[ChatMessage]) -> list[dict[str, Any]]:
    return [encode_message(m) for m in messages]


def decode_messages(data: Sequence[Mapping[str, Any]]) -> tuple[ChatMessage, ...]:
    return tuple(decode_message(item) for item in data)


def encode_message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "name": c.name,
                "arguments": dict(c.arguments),
                "raw_arguments": c.raw_arguments,
            }
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def decode_message(data: Mapping[str, Any]) -> ChatMessage:
    calls = tuple(
        ToolCall(
            id=str(c["id"]),
            name=str(c["name"]),
            arguments=dict(c.get("arguments") or {}),
            raw_arguments=str(c.get("raw_arguments", "")),
        )
        for c in data.get("tool_calls") or ()
    )
    return ChatMessage(
        role=cast(Role, data["role"]),
        content=str(data.get("content", "")),
        tool_calls=calls,
        tool_call_id=data.get("tool_call_id"),
        name=data.get("name"),
    )
