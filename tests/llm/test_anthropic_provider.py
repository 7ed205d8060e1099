"""AnthropicProvider through the official `anthropic` SDK against the loopback fake."""

from __future__ import annotations

import pytest

from bot.llm.anthropic_provider import to_anthropic
from bot.llm.errors import FatalLLMError, RetryableLLMError
from bot.llm.types import (
    ChatMessage,
    Finish,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.llm_fixtures import Call, Disconnect, HttpError, Text, ToolCalls
from tests.llm.helpers import anthropic, ask, collect, text_of


async def test_streams_text_usage_and_finish(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Text("Bonjour tout le monde", chunks=4))
    events = await collect(anthropic(fake_anthropic).stream(ask("Hi")))

    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Bonjour ",
        "tout ",
        "le ",
        "monde",
    ]
    usage = events[-2]
    assert isinstance(usage, Usage) and usage.input_tokens > 0 and usage.output_tokens > 0
    assert events[-1] == Finish(reason="stop")


async def test_request_shape(fake_anthropic: FakeAnthropic) -> None:
    await collect(anthropic(fake_anthropic).stream(ask("Hi", system="Be kind.")))

    sent = fake_anthropic.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"]
    assert sent.headers["x-stainless-retry-count"] == "0"
    assert sent.body["system"] == "Be kind."
    assert sent.body["max_tokens"] == 2000
    assert sent.body["stream"] is True
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


@pytest.mark.parametrize(
    ("scripted", "reason"),
    [("stop", "stop"), ("length", "length"), ("content_filter", "content_filter")],
)
async def test_stop_reasons(fake_anthropic: FakeAnthropic, scripted: str, reason: str) -> None:
    fake_anthropic.script(Text("x", finish=scripted))  # type: ignore[arg-type]
    events = await collect(anthropic(fake_anthropic).stream(ask()))
    assert events[-1] == Finish(reason=reason)  # type: ignore[arg-type]


async def test_tool_use_blocks_become_whole_tool_calls(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(
        ToolCalls(
            [
                Call("search", {"query": "holiday policy"}, id="toolu_1"),
                Call("calculator", {"expression": "1+1"}, id="toolu_2"),
            ],
            reason="Checking two things.",
            chunks=4,
        )
    )
    events = await collect(anthropic(fake_anthropic).stream(ask()))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [
        ("toolu_1", "search", {"query": "holiday policy"}),
        ("toolu_2", "calculator", {"expression": "1+1"}),
    ]
    assert text_of(events) == "Checking two things."
    assert events[-1] == Finish(reason="tool_calls")


async def test_invalid_tool_json_keeps_raw(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(ToolCalls([Call("calc", '{"expression": "1+', id="toolu_9")]))
    events = await collect(anthropic(fake_anthropic).stream(ask()))
    (call,) = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert call.arguments == {} and call.raw_arguments == '{"expression": "1+'


async def test_tool_results_round_trip(fake_anthropic: FakeAnthropic) -> None:
    calls = (
        ToolCall(id="toolu_a", name="current_time", arguments={}),
        ToolCall(id="toolu_b", name="calculator", arguments={"expression": "6*7"}),
    )
    request = LLMRequest(
        messages=[
            ChatMessage(role="system", content="Sys."),
            ChatMessage(role="user", content="Time and 6*7?"),
            ChatMessage(role="assistant", content="Let me check.", tool_calls=calls),
            ChatMessage(role="tool", tool_call_id="toolu_a", content="12:00"),
            ChatMessage(role="tool", tool_call_id="toolu_b", content="42"),
        ],
        tools=[ToolSpec(name="calculator", description="Math", parameters={"type": "object"})],
    )
    events = await collect(anthropic(fake_anthropic).stream(request))

    assert text_of(events) == "Tool result: 12:00; 42"  # the fake accepted the history
    messages = fake_anthropic.last_body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_a", "name": "current_time", "input": {}},
        {"type": "tool_use", "id": "toolu_b", "name": "calculator", "input": {"expression": "6*7"}},
    ]
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": "12:00"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "content": "42"},
    ]
    assert fake_anthropic.last_body["tools"][0]["input_schema"] == {"type": "object"}


def test_consecutive_same_role_messages_are_merged() -> None:
    system, messages = to_anthropic(
        [
            ChatMessage(role="system", content="A."),
            ChatMessage(role="user", content="one"),
            ChatMessage(role="user", content="two"),
            ChatMessage(role="system", content="B."),
            ChatMessage(role="assistant", content="three"),
            ChatMessage(role="assistant", content="  "),
            ChatMessage(role="user", content="four"),
        ]
    )
    assert system == "A.\n\nB."
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[0]["content"]] == ["one", "two"]


async def test_merged_history_is_accepted(fake_anthropic: FakeAnthropic) -> None:
    request = LLMRequest(
        messages=[ChatMessage(role="user", content="one"), ChatMessage(role="user", content="two")]
    )
    events = await collect(anthropic(fake_anthropic).stream(request))
    assert text_of(events) == "You said: onetwo"


async def test_overloaded_529_is_retryable(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(HttpError(529))
    with pytest.raises(RetryableLLMError) as info:
        await collect(anthropic(fake_anthropic).stream(ask()))
    assert info.value.status == 529 and info.value.summary == "529 overloaded"


async def test_wrong_key_is_fatal_401(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.accepted_keys = frozenset({"right"})
    with pytest.raises(FatalLLMError) as info:
        await collect(anthropic(fake_anthropic).stream(ask()))
    assert info.value.status == 401


async def test_mid_stream_disconnect_is_retryable(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Disconnect("Part of it", chunks=2))
    seen: list[str] = []
    with pytest.raises(RetryableLLMError):
        async for event in anthropic(fake_anthropic).stream(ask()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert "".join(seen) == "Part of it"
