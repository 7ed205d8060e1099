"""OpenAIProvider through the official `openai` SDK against the loopback fake."""

from __future__ import annotations

import pytest

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
from tests.fakes.llm_fixtures import Call, Disconnect, Text, ToolCalls
from tests.fakes.openai_api import FakeOpenAI
from tests.llm.helpers import KEY, ask, collect, openai, text_of


async def test_streams_text_usage_and_finish(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Text("The quick brown fox jumps", chunks=4))
    events = await collect(openai(fake_openai).stream(ask("Hi")))

    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 4
    assert text_of(events) == "The quick brown fox jumps"
    assert isinstance(events[-2], Usage) and events[-2].input_tokens > 0
    assert events[-2].output_tokens > 0
    assert events[-1] == Finish(reason="stop")


async def test_request_shape(fake_openai: FakeOpenAI) -> None:
    request = LLMRequest(messages=ask("Hi").messages, temperature=0.2, max_output_tokens=50)
    await collect(openai(fake_openai).stream(request))

    sent = fake_openai.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["x-stainless-retry-count"] == "0"
    body = sent.body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-test"
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50  # a custom base URL gets the widely supported name
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hi"},
    ]


async def test_default_answer_echoes_the_user(fake_openai: FakeOpenAI) -> None:
    events = await collect(openai(fake_openai).stream(ask("What is 2+2?")))
    assert text_of(events) == "You said: What is 2+2?"


@pytest.mark.parametrize("finish", ["length", "content_filter"])
async def test_finish_reasons(fake_openai: FakeOpenAI, finish: str) -> None:
    fake_openai.script(Text("cut", finish=finish))  # type: ignore[arg-type]
    events = await collect(openai(fake_openai).stream(ask()))
    assert events[-1] == Finish(reason=finish)  # type: ignore[arg-type]


async def test_single_tool_call_joined_from_deltas(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        ToolCalls(
            [Call("search", {"query": "refund policy", "limit": 3}, id="call_a")],
            reason="Let me look that up.",
            chunks=5,
        )
    )
    events = await collect(openai(fake_openai).stream(ask()))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [
        ToolCall(
            id="call_a",
            name="search",
            arguments={"query": "refund policy", "limit": 3},
            raw_arguments='{"query": "refund policy", "limit": 3}',
        )
    ]
    assert text_of(events) == "Let me look that up."
    assert events[-1] == Finish(reason="tool_calls")


async def test_several_tool_calls_in_one_turn(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        ToolCalls(
            [
                Call("current_time"),
                Call("calculator", {"expression": "6*7"}),
                Call("broken", "{not json"),
            ]
        )
    )
    events = await collect(openai(fake_openai).stream(ask()))

    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert [c.name for c in calls] == ["current_time", "calculator", "broken"]
    assert calls[0].arguments == {}
    assert calls[1].arguments == {"expression": "6*7"}
    assert calls[2].arguments == {} and calls[2].raw_arguments == "{not json"
    assert len({c.id for c in calls}) == 3


async def test_tool_results_round_trip(fake_openai: FakeOpenAI) -> None:
    call = ToolCall(id="call_x", name="calculator", arguments={"expression": "6*7"})
    request = LLMRequest(
        messages=[
            ChatMessage(role="user", content="What is 6*7?"),
            ChatMessage(role="assistant", tool_calls=(call,)),
            ChatMessage(role="tool", tool_call_id="call_x", name="calculator", content="42"),
        ],
        tools=[ToolSpec(name="calculator", description="Math", parameters={"type": "object"})],
    )
    events = await collect(openai(fake_openai).stream(request))

    assert text_of(events) == "Tool result: 42"  # the fake accepted the history
    body = fake_openai.last_body
    assert body["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_x",
                "type": "function",
                "function": {"name": "calculator", "arguments": '{"expression": "6*7"}'},
            }
        ],
    }
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_x", "content": "42"}
    assert body["tools"][0]["function"]["name"] == "calculator"


async def test_tool_message_without_call_is_a_fatal_400(fake_openai: FakeOpenAI) -> None:
    request = LLMRequest(
        messages=[
            ChatMessage(role="user", content="x"),
            ChatMessage(role="tool", tool_call_id="nope", content="1"),
        ]
    )
    with pytest.raises(FatalLLMError) as info:
        await collect(openai(fake_openai).stream(request))
    assert info.value.status == 400


async def test_wrong_key_is_fatal_401(fake_openai: FakeOpenAI) -> None:
    fake_openai.accepted_keys = frozenset({"the-right-key"})
    with pytest.raises(FatalLLMError) as info:
        await collect(openai(fake_openai).stream(ask()))
    assert info.value.status == 401
    assert KEY not in str(info.value)


async def test_mid_stream_disconnect_is_retryable(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Disconnect("Half of an answer", chunks=2))
    seen: list[str] = []
    with pytest.raises(RetryableLLMError):
        async for event in openai(fake_openai).stream(ask()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert "".join(seen) == "Half of an answer"


async def test_official_base_url_uses_max_completion_tokens() -> None:
    from bot.llm.openai_provider import OpenAIProvider

    provider = OpenAIProvider.create(api_key="k", base_url=None, model="gpt-x", timeout_s=1)
    params = provider.build_params(ask())
    assert params["max_completion_tokens"] == 2000 and "max_tokens" not in params
    assert str(provider.client.base_url).startswith("https://api.openai.com/v1")
    assert provider.client.max_retries == 0
    await provider.aclose()
