"""An in-process ChatModel for core unit tests and benchmarks: it answers from a script (or
echoes the last user message), records every request, and can fail on demand. End-to-end tests
use the loopback OpenAI/Anthropic fakes through the real SDKs instead."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from bot.errors import ProviderError
from bot.llm.types import (
    Answering,
    Finish,
    LLMRequest,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)


@dataclass
class ScriptedModel:
    available: bool = True
    replies: deque[str | list[ToolCall] | Exception] = field(default_factory=deque)
    requests: list[LLMRequest] = field(default_factory=list)
    chunk: int = 8
    responder: Callable[[LLMRequest], str] | None = None

    def say(self, *replies: str | list[ToolCall] | Exception) -> None:
        self.replies.extend(replies)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        yield Answering(provider="scripted", model="scripted-1")
        reply = self.replies.popleft() if self.replies else None
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, list):
            for call in reply:
                yield ToolCallEvent(call=call)
            yield Finish(reason="tool_calls")
            return
        if reply is None:
            reply = self.responder(request) if self.responder else _echo(request)
        for i in range(0, len(reply), self.chunk):
            yield TextDelta(text=reply[i : i + self.chunk])
        yield Usage(
            input_tokens=sum(len(m.content) for m in request.messages) // 4,
            output_tokens=len(reply) // 4,
        )
        yield Finish(reason="stop")


def _echo(request: LLMRequest) -> str:
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return f"You said: {last}"


def failing(message: str = "The language model is unavailable right now.") -> ProviderError:
    return ProviderError(message)
