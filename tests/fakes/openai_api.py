"""A loopback fake of OpenAI's `POST /v1/chat/completions` (streaming SSE and plain JSON).

Wire format, as the real API sends it with `stream: true`: one `data: {chunk}` line per event —
a first chunk with `delta.role`, `delta.content` pieces, tool calls as `delta.tool_calls[]` whose
first fragment carries `index`, `id`, `type` and `function.name` and whose later fragments carry
only `index` and a piece of `function.arguments`; a chunk with `finish_reason`; with
`stream_options.include_usage` a last chunk with empty `choices` and `usage`; then `data: [DONE]`.
See `tests.fakes.llm_fixtures` for the script vocabulary and the shared server.
"""

from __future__ import annotations

import asyncio
import json
import time
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

ROLES = ("system", "developer", "user", "assistant", "tool")


def validate(body: Any) -> None:
    """Raise ApiRejection the way the real API refuses a request."""
    if not isinstance(body, dict):
        raise ApiRejection(400, "We could not parse the JSON body of your request.")
    if not body.get("model"):
        raise ApiRejection(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiRejection(400, "Missing required parameter: 'messages'.")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise ApiRejection(
            400, "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        )
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ROLES:
            raise ApiRejection(
                400,
                f"Invalid value: '{role}'. Supported values are: {', '.join(ROLES)}."
                f" (messages[{i}].role)",
            )
        if role != "tool" and open_calls:
            raise ApiRejection(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(sorted(open_calls))}",
            )
        if role == "tool":
            call_id = m.get("tool_call_id")
            if call_id not in open_calls:
                raise ApiRejection(
                    400,
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls'. (messages[{i}])",
                )
            open_calls.discard(call_id)
        elif role == "assistant":
            calls = m.get("tool_calls") or []
            open_calls = {str(c.get("id")) for c in calls if isinstance(c, dict)}
            if m.get("content") is None and not calls:
                raise ApiRejection(
                    400, f"messages[{i}]: assistant content is required without tool_calls"
                )
        elif m.get("content") is None:
            raise ApiRejection(400, f"Missing required parameter: 'messages[{i}].content'.")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def default_reply(body: dict[str, Any]) -> Text:
    """'You said: <last user text>' — or the last tool result when a tool just answered."""
    last = body["messages"][-1]
    if last.get("role") == "tool":
        return Text(f"Tool result: {_text_of(last.get('content'))}")
    users = [m for m in body["messages"] if m.get("role") == "user"]
    return Text(f"You said: {_text_of(users[-1].get('content')) if users else ''}")


class OpenAISettings(TypedDict):
    """The `Settings` fields that point the bot at a `FakeOpenAI`."""

    openai_base_url: str
    openai_api_key: str


class FakeOpenAI(LoopbackLLMServer):
    api_root = "/v1"
    route = "/v1/chat/completions"
    env_prefix = "OPENAI"
    validate = staticmethod(validate)
    default_reply = staticmethod(default_reply)

    def settings_overrides(self, api_key: str = "test-key") -> OpenAISettings:
        return {"openai_base_url": self.base_url, "openai_api_key": api_key}

    def error_body(self, status: int, message: str, kind: str) -> dict[str, Any]:
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        kind = {429: "requests", 500: "server_error"}.get(status, kind)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def check_headers(self, headers: Mapping[str, str]) -> None:
        auth = headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not key:
            raise ApiRejection(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if self.accepted_keys is not None and key not in self.accepted_keys:
            raise ApiRejection(401, f"Incorrect API key provided: {key}.")

    # --- responses ---------------------------------------------------------------------------
    def _base(self, body: dict[str, Any], cid: str) -> dict[str, Any]:
        return {
            "id": cid,
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
        }

    def usage(self, body: dict[str, Any], output: Any) -> dict[str, int]:
        prompt, completion = count_tokens(body["messages"]), max(1, count_tokens(output))
        self.reported_usage.append((prompt, completion))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def json_reply(self, body: dict[str, Any], scripted: Scripted) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if isinstance(scripted, Text):
            message["content"], finish = scripted.text, scripted.finish
        elif isinstance(scripted, ToolCalls):
            message["content"] = scripted.reason or None
            message["tool_calls"] = [
                {
                    "id": c.id or self.next_id("call_"),
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json},
                }
                for c in scripted.calls
            ]
            finish = "tool_calls"
        else:  # a disconnect or stall only makes sense while streaming; answer partially
            message["content"] = getattr(scripted, "after_text", "")
        return {
            **self._base(body, self.next_id("chatcmpl-")),
            "object": "chat.completion",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": self.usage(body, message),
        }

    async def stream(
        self, request: web.Request, body: dict[str, Any], scripted: Scripted
    ) -> web.StreamResponse:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {**self._base(body, self.next_id("chatcmpl-")), "object": "chat.completion.chunk"}
        response = await self.open_sse(request)

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                **base,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                chunk["usage"] = None
            await response.write(f"data: {_dumps(chunk)}\n\n".encode())

        async def send_text(text: str, pieces: int, delay_s: float) -> None:
            for piece in split_text(text, pieces):
                if delay_s:
                    await asyncio.sleep(delay_s)
                await send({"content": piece})

        await send({"role": "assistant", "content": "", "refusal": None})
        output: Any = ""
        finish = "stop"
        if isinstance(scripted, Text):
            await send_text(scripted.text, scripted.chunks, scripted.delay_s)
            output, finish = scripted.text, scripted.finish
        elif isinstance(scripted, ToolCalls):
            await send_text(scripted.reason, scripted.chunks, scripted.delay_s)
            for index, call in enumerate(scripted.calls):
                head = {
                    "index": index,
                    "id": call.id or self.next_id("call_"),
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
                await send({"tool_calls": [head]})
                for piece in split_text(call.arguments_json, scripted.chunks):
                    await send({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            output, finish = (
                [scripted.reason, [c.arguments_json for c in scripted.calls]],
                "tool_calls",
            )
        elif isinstance(scripted, Disconnect):
            await send_text(scripted.after_text, scripted.chunks, 0.0)
            self.drop(request)
            return response
        elif isinstance(scripted, Hang):
            await send_text(scripted.after_text, 1, 0.0)
            await self.hang(scripted.seconds)
            self.drop(request)
            return response
        await send({}, finish)
        if include_usage:
            chunk = {**base, "choices": [], "usage": self.usage(body, output)}
            await response.write(f"data: {_dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
