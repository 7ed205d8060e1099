"""The provider-neutral LLM vocabulary: chat messages in, normalized stream events out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "deadline"]
"""`deadline`: the router cut the stream at the call's deadline (never sent by a provider)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]
    """Parsed JSON arguments; `{}` with `raw_arguments` kept when the model sent invalid JSON."""
    raw_arguments: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """On assistant messages: the calls the model asked for."""
    tool_call_id: str | None = None
    """On tool messages: which call this is the result of."""
    name: str | None = None
    """On tool messages: the tool's name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any]
    """JSON Schema of the arguments object."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallEvent:
    call: ToolCall


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    reason: FinishReason


@dataclass(frozen=True, slots=True, kw_only=True)
class Answering:
    """Emitted first by the router: which provider and model are answering this stream."""

    provider: str
    model: str


StreamEvent = TextDelta | ToolCallEvent | Usage | Finish | Answering


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMRequest:
    messages: Sequence[ChatMessage]
    """The conversation; a leading system message carries the system prompt."""
    tools: Sequence[ToolSpec] = ()
    max_output_tokens: int = 2000
    temperature: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float | None = None
    """Seconds this call may take in all, from its start to the end of its stream, over every
    provider and retry (the model time its turn has left); None: the model's own default
    (LLM_TURN_DEADLINE_S). A stream still running then ends with `Finish(reason="deadline")`."""


class LLMProvider(Protocol):
    name: str
    model: str

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Yield TextDelta / ToolCallEvent (whole calls, after their deltas are joined) / Usage,
        then exactly one Finish. Raise `bot.llm.errors` types on failure."""


class ChatModel(Protocol):
    """What the conversation core calls: one provider or the fallback router."""

    @property
    def available(self) -> bool:
        """False when no provider is configured (the no-LLM mode)."""

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]: ...
