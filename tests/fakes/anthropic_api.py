"""A loopback fake of Anthropic's `POST /v1/messages` (streaming SSE and plain JSON).

Wire format, as the real API streams it: `event: <type>` + `data: {json}` pairs —
`message_start` (the message shell with input usage), per content block `content_block_start`
(a `text` block, or a `tool_use` block with id and name and empty input), `content_block_delta`s
(`text_delta`, or `input_json_delta` with a `partial_json` piece), `content_block_stop`; then
`message_delta` (stop_reason, cumulative output tokens) and `message_stop`. A `ping` is sent
early, as the real API does. See `tests.fakes.llm_fixtures` for the script vocabulary.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, TypedDict

from aiohttp import web

from tests.fakes.llm_fixtures import (
    ApiRejection,
    Disconnect,
    Hang,
    LoopbackLLMServer,
    Scripted,
    Text,
    ToolCalls,
    count_tokens,
    split_text,
)

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def validate(body: Any) -> None:
    """Raise ApiRejection the way the real API refuses a request."""
    if not isinstance(body, dict):
        raise ApiRejection(400, "Request body must be a JSON object")
    for required in ("model", "messages", "max_tokens"):
        if required not in body:
            raise ApiRejection(400, f"{required}: Field required")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise ApiRejection(400, "messages: at least one message is required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise ApiRejection(400, "max_tokens: Input should be a valid integer greater than 0")
    previous_tool_uses: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            hint = (
                " The Messages API accepts a top-level `system` parameter."
                if role == "system"
                else ""
            )
            raise ApiRejection(400, f'messages.{i}.role: Unexpected role "{role}".{hint}')
        if i and messages[i - 1].get("role") == role:
            raise ApiRejection(
                400,
                f'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row',
            )
        blocks = _blocks(m.get("content"))
        if not blocks:
            raise ApiRejection(400, f"messages.{i}: all messages must have non-empty content")
        for j, block in enumerate(blocks):
            if block.get("type") == "text" and not block.get("text", "").strip():
                raise ApiRejection(
                    400, f"messages.{i}.content.{j}: text content blocks must be non-empty"
                )
        results = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
        if role == "assistant" and results:
            raise ApiRejection(
                400, f"messages.{i}: tool_result blocks are only allowed in user messages"
            )
        unknown = [r for r in results if r not in previous_tool_uses]
        if unknown:
            raise ApiRejection(
                400,
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{unknown[0]}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message.",
            )
        missing = previous_tool_uses - set(results)
        if missing:
            raise ApiRejection(
                400,
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {', '.join(sorted(missing))}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message.",
            )
        if results and any(b.get("type") != "tool_result" for b in blocks[: len(results)]):
            raise ApiRejection(
                400, f"messages.{i}: tool_result blocks must come first in the content"
            )
        previous_tool_uses = {b.get("id", "") for b in blocks if b.get("type") == "tool_use"}


def default_reply(body: dict[str, Any]) -> Text:
    """'You said: <last user text>' — or the tool results when the last turn carries them."""
    last = _blocks(body["messages"][-1].get("content"))
    results = [b for b in last if b.get("type") == "tool_result"]
    if results:
        texts = []
        for r in results:
            content = r.get("content", "")
            texts.append(
                content
                if isinstance(content, str)
                else "".join(b.get("text", "") for b in _blocks(content))
            )
        return Text(f"Tool result: {'; '.join(texts)}")
    for m in reversed(body["messages"]):
        if m.get("role") == "user":
            text = "".join(
                b.get("text", "") for b in _blocks(m.get("content")) if b.get("type") == "text"
            )
            return Text(f"You said: {text}")
    return Text("You said: ")


class AnthropicSettings(TypedDict):
    """The `Settings` fields that point the bot at a `FakeAnthropic`."""

    anthropic_base_url: str
    anthropic_api_key: str


class FakeAnthropic(LoopbackLLMServer):
    api_root = ""
    route = "/v1/messages"
    env_prefix = "ANTHROPIC"
    validate = staticmethod(validate)
    default_reply = staticmethod(default_reply)

    def settings_overrides(self, api_key: str = "test-key") -> AnthropicSettings:
        return {"anthropic_base_url": self.base_url, "anthropic_api_key": api_key}

    def error_body(self, status: int, message: str, kind: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": self.next_id("req_"),
        }

    def check_headers(self, headers: Mapping[str, str]) -> None:
        key = headers.get("x-api-key", "").strip()
        bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not (key or bearer):
            raise ApiRejection(401, "x-api-key header is required", kind="authentication_error")
        if self.accepted_keys is not None and (key or bearer) not in self.accepted_keys:
            raise ApiRejection(401, "invalid x-api-key", kind="authentication_error")
        if not headers.get("anthropic-version"):
            raise ApiRejection(400, "anthropic-version: header is required")

    # --- responses ---------------------------------------------------------------------------
    def content_of(self, scripted: Scripted) -> tuple[list[dict[str, Any]], str]:
        """(content blocks, stop_reason) of a scripted answer."""
        if isinstance(scripted, Text):
            return [{"type": "text", "text": scripted.text}], STOP_REASONS[scripted.finish]
        if isinstance(scripted, ToolCalls):
            blocks: list[dict[str, Any]] = (
                [{"type": "text", "text": scripted.reason}] if scripted.reason else []
            )
            for call in scripted.calls:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.id or self.next_id("toolu_"),
                        "name": call.name,
                        "input": call.arguments,
                    }
                )
            return blocks, "tool_use"
        return [{"type": "text", "text": getattr(scripted, "after_text", "")}], "end_turn"

    def json_reply(self, body: dict[str, Any], scripted: Scripted) -> dict[str, Any]:
        content, stop = self.content_of(scripted)
        for block in content:
            if block["type"] == "tool_use" and isinstance(block["input"], str):
                block["input"] = json.loads(block["input"] or "{}")
        return {
            "id": self.next_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": self._reported(self.input_tokens(body), max(1, count_tokens(content))),
        }

    def _reported(self, input_tokens: int, output_tokens: int) -> dict[str, int]:
        self.reported_usage.append((input_tokens, output_tokens))
        return {"input_tokens": input_tokens, "output_tokens": output_tokens}

    def input_tokens(self, body: dict[str, Any]) -> int:
        return count_tokens([body.get("system", ""), body["messages"]])

    async def stream(
        self, request: web.Request, body: dict[str, Any], scripted: Scripted
    ) -> web.StreamResponse:
        response = await self.open_sse(request)

        async def send(kind: str, data: dict[str, Any]) -> None:
            payload = json.dumps({"type": kind, **data}, separators=(",", ":"))
            await response.write(f"event: {kind}\ndata: {payload}\n\n".encode())

        await send(
            "message_start",
            {
                "message": {
                    "id": self.next_id("msg_"),
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": body["model"],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": self.input_tokens(body), "output_tokens": 1},
                }
            },
        )
        await send("ping", {})
        if isinstance(scripted, Disconnect | Hang):
            await send(
                "content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}
            )
            for piece in split_text(scripted.after_text, getattr(scripted, "chunks", 1)):
                await send(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            if isinstance(scripted, Hang):
                await self.hang(scripted.seconds)
            self.drop(request)
            return response
        assert isinstance(scripted, Text | ToolCalls)
        content, stop = self.content_of(scripted)
        for index, block in enumerate(content):
            if block["type"] == "text":
                await send(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": ""}},
                )
                for piece in split_text(block["text"], scripted.chunks):
                    if scripted.delay_s:
                        await asyncio.sleep(scripted.delay_s)
                    await send(
                        "content_block_delta",
                        {"index": index, "delta": {"type": "text_delta", "text": piece}},
                    )
            else:
                start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
                await send("content_block_start", {"index": index, "content_block": start})
                raw = (
                    block["input"]
                    if isinstance(block["input"], str)
                    else json.dumps(block["input"])
                )
                for piece in split_text(raw, scripted.chunks):
                    await send(
                        "content_block_delta",
                        {
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
            await send("content_block_stop", {"index": index})
        output_tokens = max(1, count_tokens(content))
        self.reported_usage.append((self.input_tokens(body), output_tokens))
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        await send("message_stop", {})
        await response.write_eof()
        return response
