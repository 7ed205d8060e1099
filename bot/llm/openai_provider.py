"""OpenAI chat completions (and any OpenAI-compatible server) as an `LLMProvider`.

How it works: our `ChatMessage`s become chat-completions messages (assistant tool calls echoed
with their ids and raw JSON arguments, tool results as role "tool" messages); the request is
streamed with `stream_options.include_usage`. Streamed tool calls arrive as fragments keyed by
`index` (the first fragment carries id and name, later ones append to `arguments`); they are joined
and emitted as whole `ToolCallEvent`s when the choice finishes. The usage chunk (empty `choices`)
comes last; then exactly one `Finish`.

The SDK's own retries are off (`max_retries=0`): `bot.llm.retry` is the one retry policy.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from openai import AsyncOpenAI

from bot.llm.errors import RetryableLLMError, with_translated_errors
from bot.llm.toolargs import make_tool_call
from bot.llm.types import (
    ChatMessage,
    Finish,
    FinishReason,
    LLMRequest,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def to_openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant" and m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {
                                "name": c.name,
                                "arguments": c.raw_arguments or json.dumps(dict(c.arguments)),
                            },
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def to_openai_tools(tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": dict(t.parameters),
            },
        }
        for t in tools
    ]


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def build(self, index: int) -> ToolCall:
        return make_tool_call(self.id or f"call_{index}", self.name, "".join(self.arguments))


class OpenAIProvider:
    """`LLMProvider` over `AsyncOpenAI`. `max_tokens_param` is "max_completion_tokens" for
    api.openai.com and "max_tokens" for compatible servers that predate the new name."""

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        name: str = "openai",
        max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_completion_tokens",
    ) -> None:
        self.client = client
        self.model = model
        self.name = name
        self.max_tokens_param = max_tokens_param

    @classmethod
    def create(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str,
        timeout_s: float,
    ) -> OpenAIProvider:
        client = AsyncOpenAI(
            # Local OpenAI-compatible servers often need no key; the SDK insists on one.
            api_key=api_key or "not-needed",
            base_url=base_url or "https://api.openai.com/v1",
            timeout=timeout_s,
            max_retries=0,
        )
        param: Literal["max_tokens", "max_completion_tokens"] = (
            "max_tokens" if base_url else "max_completion_tokens"
        )
        return cls(client, model=model, max_tokens_param=param)

    async def aclose(self) -> None:
        """Close the SDK's HTTP connection pool (call once at shutdown)."""
        await self.client.close()

    def build_params(self, request: LLMRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(request.messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            self.max_tokens_param: request.max_output_tokens,
        }
        if request.tools:
            params["tools"] = to_openai_tools(request.tools)
        if request.temperature is not None:
            params["temperature"] = request.temperature
        return params

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        return with_translated_errors(self._stream(self.build_params(request)), provider=self.name)

    async def _stream(self, params: dict[str, Any]) -> AsyncIterator[StreamEvent]:
        calls: dict[int, _PartialCall] = {}
        finish: FinishReason | None = None
        usage: Usage | None = None
        stream = await self.client.chat.completions.create(**cast(Any, params))
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(
                        input_tokens=chunk.usage.prompt_tokens,
                        output_tokens=chunk.usage.completion_tokens,
                    )
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    if delta.content:
                        yield TextDelta(text=delta.content)
                    for frag in delta.tool_calls or ():
                        call = calls.setdefault(frag.index, _PartialCall())
                        call.id = call.id or (frag.id or "")
                        if frag.function is not None:
                            call.name = call.name or (frag.function.name or "")
                            if frag.function.arguments:
                                call.arguments.append(frag.function.arguments)
                    if choice.finish_reason is not None:
                        finish = _FINISH.get(choice.finish_reason, "stop")
                        for index in sorted(calls):
                            yield ToolCallEvent(call=calls[index].build(index))
        if finish is None:
            raise RetryableLLMError("stream ended early", provider=self.name)
        if calls and finish == "stop":
            finish = "tool_calls"  # some compatible servers say "stop" after tool calls
        if usage is not None:
            yield usage
        yield Finish(reason=finish)
