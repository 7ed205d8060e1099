"""Loopback fakes of the OpenAI and Anthropic HTTP APIs: the script vocabulary, the shared server
base, and the pytest fixtures `fake_openai` / `fake_anthropic`.

How the fakes work: each is a real aiohttp server on 127.0.0.1 (random port) speaking the real
wire protocol, so the official SDKs talk to it exactly as to the real API (point OPENAI_BASE_URL /
ANTHROPIC_BASE_URL at `.base_url`). Every request is recorded (`.requests`: parsed JSON body and
headers), then checked like the real API would (401 without a key; 400 with the API's error JSON
for a missing model/messages/max_tokens, bad roles, tool results without a matching call, …).
A valid request takes the next scripted response from a queue; with an empty queue the fake
answers deterministically: "You said: <last user text>" (or "Tool result: <text>" after a tool
call), so end-to-end tests work without scripting.

Scripting, e.g.::

    fake_openai.script(Text("Hello there", chunks=3))
    fake_openai.script(ToolCalls([Call("search", {"q": "x"})], reason="Let me look."))
    fake_anthropic.script_error(529, times=2)           # two overloaded answers, then default
    fake_openai.script_error(429, retry_after=7)
    fake_openai.script(Hang())                          # never answers (timeout tests)
    fake_openai.script(Disconnect(after_text="Half an ans"))   # drops mid-stream

Outside pytest (benchmarks): ``async with FakeOpenAI() as fake: ...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Self

import pytest
from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.anthropic_api import FakeAnthropic
    from tests.fakes.openai_api import FakeOpenAI


# --- the script vocabulary -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """A text answer streamed in about `chunks` pieces, `delay_s` before each piece."""

    text: str
    chunks: int = 3
    delay_s: float = 0.0
    finish: Literal["stop", "length", "content_filter"] = "stop"


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call. `arguments` as a str is sent verbatim (use it for invalid JSON)."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True, slots=True)
class ToolCalls:
    """One turn asking for one or several tool calls, after an optional `reason` text.
    Each call's JSON arguments are streamed in about `chunks` deltas."""

    calls: Sequence[Call]
    reason: str = ""
    chunks: int = 3
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class HttpError:
    """An HTTP error with the API's error JSON (e.g. 429, 500, Anthropic 529 overloaded)."""

    status: int
    retry_after: float | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Hang:
    """Never answer (until `seconds` pass or the server stops). With `after_text`, the stream
    starts and sends that text first, then stalls."""

    seconds: float = 3600.0
    after_text: str = ""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Start streaming, send `after_text` (in `chunks` pieces), then drop the connection."""

    after_text: str = "This answer will be cut"
    chunks: int = 2


Scripted = Text | ToolCalls | HttpError | Hang | Disconnect


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    """Lower-cased header names."""
    body: Any
    """Parsed JSON (None when the body was not JSON)."""


def split_text(text: str, pieces: int) -> list[str]:
    """Split at word boundaries into at most `pieces` parts that join back to `text` exactly."""
    if not text:
        return []
    words = re.findall(r"\s*\S+\s*", text) or [text]
    if len(words) < pieces:
        step = max(1, -(-len(text) // pieces))
        return [text[i : i + step] for i in range(0, len(text), step)]
    n = max(1, pieces)
    bounds = [round(i * len(words) / n) for i in range(n + 1)]
    return ["".join(words[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


def count_tokens(value: Any) -> int:
    """A deterministic stand-in for a tokenizer: words in the JSON text."""
    return len(re.findall(r"\w+", json.dumps(value, ensure_ascii=False)))


class ApiRejection(Exception):
    """Raised by a fake's validator: answer with this status and the API's error JSON."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


# --- the shared server -----------------------------------------------------------------------


class LoopbackLLMServer:
    """Base of both fakes: lifecycle, recording, the script queue, hangs and disconnects."""

    api_root = ""
    """What `.base_url` adds to the server address (the SDK's own default path prefix)."""
    route = ""
    """The API's one endpoint (POST), served by `handle`."""
    env_prefix = ""

    def __init__(self, *, accepted_keys: Iterable[str] | None = None) -> None:
        self.accepted_keys = frozenset(accepted_keys) if accepted_keys is not None else None
        """None: any non-empty key is accepted; otherwise only these (others get 401)."""
        self.requests: list[RecordedRequest] = []
        self.reported_usage: list[tuple[int, int]] = []
        """(input, output) tokens of each completed answer, as the API reported them."""
        self._queue: deque[Scripted] = deque()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._ids = itertools.count(1)
        self.port = 0

    # lifecycle
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(self.route, self.handle)
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + self.api_root

    def env(self, api_key: str = "test-key") -> dict[str, str]:
        """Environment for a subprocess (`python -m bot chat`) using this fake."""
        return {f"{self.env_prefix}_BASE_URL": self.base_url, f"{self.env_prefix}_API_KEY": api_key}

    # Each fake adds `settings_overrides(api_key)`: the lower-cased `env` as keyword arguments for
    # `Settings(...)` / `load_settings(...)`, a TypedDict of its own so the keys are checked.

    # scripting
    def script(self, *responses: Scripted) -> Self:
        self._queue.extend(responses)
        return self

    def script_text(self, text: str, *, chunks: int = 3, delay_s: float = 0.0) -> None:
        self.script(Text(text, chunks=chunks, delay_s=delay_s))

    def script_tool_calls(self, *calls: Call, reason: str = "") -> None:
        self.script(ToolCalls(list(calls), reason=reason))

    def script_error(
        self, status: int, *, retry_after: float | None = None, times: int = 1
    ) -> None:
        self.script(*[HttpError(status, retry_after=retry_after) for _ in range(times)])

    def script_hang(self, seconds: float = 3600.0) -> None:
        self.script(Hang(seconds))

    def script_disconnect(self, after_text: str = "This answer will be cut") -> None:
        self.script(Disconnect(after_text))

    @property
    def pending(self) -> int:
        """Scripted responses not used yet."""
        return len(self._queue)

    @property
    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    @property
    def last_body(self) -> Any:
        return self.requests[-1].body

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    # subclass hooks
    def check_headers(self, headers: Mapping[str, str]) -> None:
        """Raise ApiRejection for a missing or refused key (and other required headers)."""
        raise NotImplementedError

    def validate(self, body: Any) -> None:
        """Raise ApiRejection the way the real API refuses a request."""
        raise NotImplementedError

    def default_reply(self, body: dict[str, Any]) -> Text:
        """The answer when nothing is scripted."""
        raise NotImplementedError

    def json_reply(self, body: dict[str, Any], scripted: Scripted) -> dict[str, Any]:
        """The whole (non-streaming) response body."""
        raise NotImplementedError

    async def stream(
        self, request: web.Request, body: dict[str, Any], scripted: Scripted
    ) -> web.StreamResponse:
        """The SSE response (see `open_sse`, `drop`, `hang`)."""
        raise NotImplementedError

    def error_body(self, status: int, message: str, kind: str) -> dict[str, Any]:
        raise NotImplementedError

    # shared request handling
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record → check headers → validate → next scripted answer (or the default) → respond."""
        recorded = await self.record(request)
        body = recorded.body
        try:
            self.check_headers(recorded.headers)
            self.validate(body)
        except ApiRejection as rejection:
            return self.reject(rejection)
        scripted: Scripted = self.take() or self.default_reply(body)
        if isinstance(scripted, HttpError):
            return self.http_error(scripted)
        if isinstance(scripted, Hang) and not scripted.after_text:
            await self.hang(scripted.seconds)
            return web.Response(status=504)
        if not body.get("stream"):
            return web.json_response(self.json_reply(body, scripted))
        try:
            return await self.stream(request, body, scripted)
        except ConnectionResetError:  # the client went away mid-stream (e.g. it timed out)
            return web.Response(status=499)

    async def record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        self.requests.append(recorded)
        return recorded

    def take(self) -> Scripted | None:
        return self._queue.popleft() if self._queue else None

    def reject(self, error: ApiRejection) -> web.Response:
        return web.json_response(
            self.error_body(error.status, error.message, error.kind), status=error.status
        )

    def http_error(self, scripted: HttpError) -> web.Response:
        headers = {}
        if scripted.retry_after is not None:
            headers["retry-after"] = f"{scripted.retry_after:g}"
        kind, default = ERROR_KINDS.get(scripted.status, ("api_error", "Internal server error"))
        body = self.error_body(scripted.status, scripted.message or default, kind)
        return web.json_response(body, status=scripted.status, headers=headers)

    async def hang(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def open_sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        response.enable_chunked_encoding()
        await response.prepare(request)
        return response

    @staticmethod
    def drop(request: web.Request) -> None:
        """Cut the connection without finishing the chunked body (a mid-stream disconnect)."""
        if request.transport is not None:
            request.transport.abort()


ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "Invalid API key"),
    403: ("permission_error", "Permission denied"),
    404: ("not_found_error", "Not found"),
    408: ("timeout_error", "Request timeout"),
    413: ("request_too_large", "Request too large"),
    422: ("invalid_request_error", "Unprocessable entity"),
    429: ("rate_limit_error", "Rate limit reached, please slow down"),
    500: ("api_error", "Internal server error"),
    502: ("api_error", "Bad gateway"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}


# --- pytest fixtures -------------------------------------------------------------------------


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A started fake OpenAI API; `.base_url` goes into OPENAI_BASE_URL (it ends in /v1)."""
    from tests.fakes.openai_api import FakeOpenAI

    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def fake_anthropic() -> AsyncIterator[FakeAnthropic]:
    """A started fake Anthropic API; `.base_url` goes into ANTHROPIC_BASE_URL (no /v1)."""
    from tests.fakes.anthropic_api import FakeAnthropic

    async with FakeAnthropic() as fake:
        yield fake
