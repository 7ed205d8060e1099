"""Anthropic Messages API as an `LLMProvider`.

How it works: system messages become the top-level `system`; assistant tool calls become
`tool_use` blocks and tool results `tool_result` blocks inside a *user* message. The API wants
user/assistant turns to alternate, so consecutive messages of the same role are merged into one
(tool results first, as the API requires, then any text). The raw event stream is then folded:

    message_start        → input tokens
    content_block_start  → a text block, or a tool_use block (id, name)
    content_block_delta  → text_delta → TextDelta; input_json_delta → appended to the tool's JSON
    content_block_stop   → the joined tool_use becomes one whole ToolCallEvent
    message_delta        → stop_reason, cumulative output tokens
    message_stop         → Usage, then Finish

A stream that ends without message_stop was cut off and is reported as retryable.
The SDK's own retries are off (`max_retries=0`): `bot.llm.retry` is the one retry policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from anthropic import AsyncAnthropic

from bot.llm.errors import RetryableLLMError, with_translated_errors
from bot.llm.toolargs import make_tool_call
from bot.llm.types import (
    ChatMessage,
    Finish,
    FinishReason,
    LLMRequest,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
    Usage,
)

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

Block = dict[str, Any]


def _blocks(m: ChatMessage) -> list[Block]:
    if m.role == "tool":
        return [{"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}]
    blocks: list[Block] = [{"type": "text", "text": m.content}] if m.content.strip() else []
    for call in m.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}
        )
    return blocks


def to_anthropic(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """(system prompt, alternating user/assistant messages with content blocks)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content.strip())
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for message in out:
        # tool_result blocks must open a user message; a stable sort keeps their order.
        message["content"].sort(key=lambda b: b["type"] != "tool_result")
    return system, out


def to_anthropic_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
        for t in tools
    ]


class AnthropicProvider:
    """`LLMProvider` over `AsyncAnthropic` (raw `messages.create(stream=True)` events)."""

    def __init__(self, client: AsyncAnthropic, *, model: str, name: str = "anthropic") -> None:
        self.client = client
        self.model = model
        self.name = name

    @classmethod
    def create(
        cls, *, api_key: str | None, base_url: str | None, model: str, timeout_s: float
    ) -> AnthropicProvider:
        client = AsyncAnthropic(
            api_key=api_key or "not-needed",
            base_url=base_url or "https://api.anthropic.com",
            timeout=timeout_s,
            max_retries=0,
        )
        return cls(client, model=model)

    async def aclose(self) -> None:
        """Close the SDK's HTTP connection pool (call once at shutdown)."""
        await self.client.close()

    def build_params(self, request: LLMRequest) -> dict[str, Any]:
        system, messages = to_anthropic(request.messages)
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": request.max_output_tokens,
            "stream": True,
        }
        if system:
            params["system"] = system
        if request.tools:
            params["tools"] = to_anthropic_tools(request.tools)
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        return with_translated_errors(self._stream(self.build_params(request)), provider=self.name)

    async def _stream(self, params: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        input_tokens = output_tokens = 0
        stop_reason: str | None = None
        tools: dict[int, tuple[str, str, list[str]]] = {}
        stream = await self.client.messages.create(**cast(Any, params))
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens
                    output_tokens = event.message.usage.output_tokens
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        tools[event.index] = (block.id, block.name, [])
                    elif block.type == "text" and block.text:
                        yield TextDelta(text=block.text)
                elif event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        yield TextDelta(text=delta.text)
                    elif delta.type == "input_json_delta" and event.index in tools:
                        tools[event.index][2].append(delta.partial_json)
                elif event.type == "content_block_stop" and event.index in tools:
                    call_id, name, parts = tools.pop(event.index)
                    yield ToolCallEvent(call=make_tool_call(call_id, name, "".join(parts)))
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = event.usage.output_tokens
                    if event.usage.input_tokens is not None:
                        input_tokens = event.usage.input_tokens
                elif event.type == "message_stop":
                    yield Usage(input_tokens=input_tokens, output_tokens=output_tokens)
                    yield Finish(reason=_FINISH.get(stop_reason or "end_turn", "stop"))
                    return
        raise RetryableLLMError("stream ended early", provider=self.name)
