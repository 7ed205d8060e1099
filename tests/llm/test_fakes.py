"""The loopback fakes themselves: they refuse what the real APIs refuse, and speak their JSON."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.llm_fixtures import Call, Text, ToolCalls, split_text
from tests.fakes.openai_api import FakeOpenAI

USER = {"role": "user", "content": "hi"}
AUTH = {"authorization": "Bearer k"}
ANTHROPIC_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


async def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as r,
    ):
        return r.status, await r.json()


# --- OpenAI --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": [USER]}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "robot"),
        ({"model": "m", "messages": [USER], "stream_options": {"include_usage": True}}, "stream"),
        (
            {
                "model": "m",
                "messages": [USER, {"role": "tool", "tool_call_id": "c1", "content": "1"}],
            },
            "preceeding message with 'tool_calls'",
        ),
        (
            {
                "model": "m",
                "messages": [
                    USER,
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            }
                        ],
                    },
                    USER,
                ],
            },
            "c1",
        ),
    ],
)
async def test_openai_fake_validates(fake_openai: FakeOpenAI, body: Any, needle: str) -> None:
    status, error = await post(f"{fake_openai.base_url}/chat/completions", body, AUTH)
    assert status == 400
    assert error["error"]["type"] == "invalid_request_error"
    assert needle in error["error"]["message"]
    assert fake_openai.requests[-1].body == body  # recorded even when refused


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer "}, {"authorization": "Basic x"}]
)
async def test_openai_fake_requires_a_key(fake_openai: FakeOpenAI, headers: dict[str, str]) -> None:
    status, error = await post(
        f"{fake_openai.base_url}/chat/completions", {"model": "m", "messages": [USER]}, headers
    )
    assert status == 401
    assert error["error"]["code"] == "invalid_api_key"


async def test_openai_fake_non_streaming_through_the_sdk(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(ToolCalls([Call("f", {"a": 1}, id="c9")], reason="Because."))
    async with AsyncOpenAI(api_key="k", base_url=fake_openai.base_url, max_retries=0) as client:
        first = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "yo"}]
        )
        second = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "yo"}]
        )
    # The queue is consumed in order: the scripted tool call first, then the default echo.
    assert first.choices[0].finish_reason == "tool_calls"
    assert first.choices[0].message.content == "Because."
    tool_calls = first.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in tool_calls] == [  # type: ignore[union-attr]
        ("c9", "f", '{"a": 1}')
    ]
    assert second.choices[0].message.content == "You said: yo"
    assert second.usage is not None and second.usage.total_tokens > 0


# --- Anthropic -----------------------------------------------------------------------------


def _anthropic(messages: list[Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": messages, **extra}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"max_tokens": 5, "messages": [USER]}, "model: Field required"),
        ({"model": "m", "messages": [USER]}, "max_tokens: Field required"),
        ({"model": "m", "max_tokens": 5}, "messages: Field required"),
        (_anthropic([{"role": "system", "content": "x"}]), "top-level `system`"),
        (_anthropic([USER, USER]), "roles must alternate"),
        (_anthropic([{"role": "user", "content": ""}]), "non-empty"),
        (
            _anthropic(
                [
                    USER,
                    {"role": "assistant", "content": "a"},
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}
                        ],
                    },
                ]
            ),
            "unexpected `tool_use_id`",
        ),
        (
            _anthropic(
                [
                    USER,
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
                        ],
                    },
                    USER,
                ]
            ),
            "without `tool_result`",
        ),
    ],
)
async def test_anthropic_fake_validates(
    fake_anthropic: FakeAnthropic, body: Any, needle: str
) -> None:
    status, error = await post(f"{fake_anthropic.base_url}/v1/messages", body, ANTHROPIC_HEADERS)
    assert status == 400
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert needle in error["error"]["message"]


async def test_anthropic_fake_requires_a_key(fake_anthropic: FakeAnthropic) -> None:
    status, error = await post(
        f"{fake_anthropic.base_url}/v1/messages",
        _anthropic([USER]),
        {"anthropic-version": "2023-06-01", "x-api-key": ""},
    )
    assert status == 401
    assert error["error"]["type"] == "authentication_error"


async def test_anthropic_fake_non_streaming_through_the_sdk(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Text("Scripted.", finish="length"))
    async with AsyncAnthropic(
        api_key="k", base_url=fake_anthropic.base_url, max_retries=0
    ) as client:
        first = await client.messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "one"}]
        )
        second = await client.messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "two"}]
        )
    assert first.stop_reason == "max_tokens"
    assert first.content[0].text == "Scripted."  # type: ignore[union-attr]
    assert second.content[0].text == "You said: two"  # type: ignore[union-attr]
    assert second.usage.input_tokens > 0


# --- shared --------------------------------------------------------------------------------


async def test_usable_outside_pytest_as_a_context_manager() -> None:
    async with FakeOpenAI() as fake:
        assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/v1")
        assert fake.env()["OPENAI_BASE_URL"] == fake.base_url
    async with FakeAnthropic() as fake_a:
        assert not fake_a.base_url.endswith("/v1")
        assert fake_a.settings_overrides("x") == {
            "anthropic_base_url": fake_a.base_url,
            "anthropic_api_key": "x",
        }


async def test_script_helpers_fill_the_queue(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_text("a b c")
    fake_openai.script_tool_calls(Call("f"), reason="r")
    fake_openai.script_error(429, retry_after=2, times=2)
    fake_openai.script_hang()
    fake_openai.script_disconnect()
    assert fake_openai.pending == 6


def test_split_text_rejoins_exactly() -> None:
    for text in ["", "one", "one two three four five", "a  b\n\nc ", "x" * 10]:
        for pieces in (1, 2, 3, 7):
            parts = split_text(text, pieces)
            assert "".join(parts) == text
            assert len(parts) <= max(pieces, 1) or not text
