"""A loopback fake of the Slack Web API, driven by the real `slack_sdk` client via `base_url`.

    async with FakeSlackApi(update_limit=50, update_window_s=60) as fake:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url)

It records every call (`fake.calls`), keeps the messages it was asked to post (`fake.messages`,
`fake.thread(channel, ts)`), and enforces what Slack enforces, so a client that gets it wrong
sees what it would see in production:
- `chat.update` budget per workspace: `update_limit` per sliding `update_window_s` → HTTP 429 with
  Retry-After (fractional seconds, so tests can use a short window);
- `chat.postMessage` (and `chat.startStream`, which posts a message) ≈ 1 per `post_interval_s`
  per channel with `post_burst` → 429;
- `chat.appendStream` / `chat.stopStream` budget per workspace: `stream_limit` per sliding
  `stream_window_s` (Tier 4, its own counter) → 429;
- `msg_too_long` for `chat.update` text over 4,000 chars (40,000 on post);
- `invalid_auth` for an unknown token; `channel_not_found` for `missing_channels` or a bad id;
- `chat.startStream` / `appendStream` / `stopStream` (recipient ids required outside DMs;
  a stream expires after `stream_ttl_s`);
- slash command and click `response_url`s (`fake.new_response_url()`; posts land in
  `fake.responses`): at most `response_url_uses` (5) posts within `response_url_ttl_s` (30 min)
  of the URL's creation, as Slack documents. Past either, the post is refused with HTTP 404 and
  a plain-text body naming why: `used_url` after the fifth use, `expired_url` after the time
  (`no_service` for a URL it never issued). Slack documents the limits but not the refusal's
  exact shape; this follows its webhook errors (a plain-text code with a 4xx status), and the
  adapter reads the code in the body, not the status.
- file uploads: `conversations.open` (a DM per user), `files.getUploadURLExternal`, the upload
  (its size must match the `length` announced) and `files.completeUploadExternal` (only for
  uploaded files); shared files land in `fake.files`; `scopes` (default: all) can leave out
  `files:write` / `im:write` to get `missing_scope`.
- `users.info` for the people in `fake.users` (`add_user`), `user_not_found` for anyone else,
  Tier 4: `users_info_limit` per minute per workspace → 429.

Also here: helpers that build captured-shape payloads and sign them like Slack does, for
driving a bot's `/slack/events` endpoint (`SlackEventSender`). Usable outside pytest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import urllib.parse
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_TOKEN = "xoxb-fake-token"
DEFAULT_APP_TOKEN = "xapp-fake-token"
DEFAULT_TEAM = "T0FAKE"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
_CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{2,}$")


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    team: str
    at: float
    """time.monotonic() when the request arrived."""
    status: int = 200
    error: str = ""
    ts: str = ""
    """The message written (post/update/stream calls that succeeded)."""


@dataclass
class FakeMessage:
    channel: str
    ts: str
    text: str
    user: str
    thread_ts: str | None = None
    blocks: list[Any] = field(default_factory=list)
    bot_id: str = ""
    edits: list[str] = field(default_factory=list)
    """Every text this message showed, in order (post, then each accepted update)."""
    streaming: bool = False
    stream_started: float = 0.0


class FakeSlackApi:
    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        team_id: str = DEFAULT_TEAM,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        update_limit: int = 50,
        update_window_s: float = 60.0,
        post_interval_s: float = 1.0,
        post_burst: int = 3,
        stream_ttl_s: float = 300.0,
        stream_limit: int = 100,
        stream_window_s: float = 60.0,
        latency_s: float = 0.0,
        users_info_limit: int = 100,
        response_url_uses: int = 5,
        response_url_ttl_s: float = 30 * 60.0,
    ) -> None:
        self.tokens: dict[str, str] = {token: team_id}
        self.users: dict[str, dict[str, Any]] = {}
        """users.info's `user` objects by id (`add_user`)."""
        self.users_info_limit = users_info_limit
        self._users_info: dict[str, deque[float]] = defaultdict(deque)
        self.token = token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.update_limit = update_limit
        self.update_window_s = update_window_s
        self.post_interval_s = post_interval_s
        self.post_burst = post_burst
        self.stream_ttl_s = stream_ttl_s
        self.stream_limit = stream_limit
        self.stream_window_s = stream_window_s
        self._appends: dict[str, deque[float]] = defaultdict(deque)
        self.latency_s = latency_s
        self.calls: list[Call] = []
        self.messages: dict[str, list[FakeMessage]] = defaultdict(list)
        self.ephemerals: list[dict[str, Any]] = []
        self.statuses: list[tuple[str, str, str]] = []
        """(channel, thread_ts, status) of each assistant.threads.setStatus."""
        self.responses: list[dict[str, Any]] = []
        self.files: list[dict[str, Any]] = []
        """Shared files: id, title, channel, initial_comment, data (bytes)."""
        self._uploads: dict[str, tuple[int, bytes | None]] = {}
        self.scopes: set[str] = {"files:write", "im:write"}
        self.missing_channels: set[str] = set()
        self._failures: dict[str, deque[tuple[str, int]]] = defaultdict(deque)
        self._updates: dict[str, deque[float]] = defaultdict(deque)
        self._posts: dict[str, tuple[float, float]] = {}
        self.response_url_uses = response_url_uses
        self.response_url_ttl_s = response_url_ttl_s
        self._response_urls: dict[str, _ResponseUrl] = {}
        self.app_tokens: set[str] = {DEFAULT_APP_TOKEN}
        self.socket_acks: dict[str, dict[str, Any]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_open = asyncio.Event()
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """What goes in SLACK_API_URL / AsyncWebClient(base_url=…)."""
        return f"{self.base_url}/api/"

    # --- test controls --------------------------------------------------------------------

    def configure(self, **limits: Any) -> None:
        """Change limits at runtime, e.g. `configure(update_limit=5, update_window_s=0.5)`."""
        for name, value in limits.items():
            if not hasattr(self, name):
                raise AttributeError(name)
            setattr(self, name, value)

    def add_workspace(self, token: str, team_id: str) -> None:
        self.tokens[token] = team_id

    def add_user(
        self,
        user_id: str,
        name: str = "",
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        deleted: bool = False,
    ) -> None:
        """A member of the workspace, as users.info describes them."""
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or user_id.lower(),
            "deleted": deleted,
            "is_bot": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
        }

    def fail_next(self, method: str, error: str, *, status: int = 200, times: int = 1) -> None:
        """Make the next `times` calls of `method` fail with `error`."""
        for _ in range(times):
            self._failures[method].append((error, status))

    def new_response_url(self) -> str:
        key = f"R{next(self._seq):06d}"
        self._response_urls[key] = _ResponseUrl(issued=time.monotonic())
        return f"{self.base_url}/response/{key}"

    def next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._seq)}.{next(self._seq):06d}"

    def user_message(
        self, channel: str, text: str, *, user: str = "U0USER1", thread_ts: str | None = None
    ) -> FakeMessage:
        """Record a message a person wrote (so conversations.replies sees it) and return it."""
        message = FakeMessage(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            user=user,
            thread_ts=thread_ts,
            edits=[text],
        )
        self.messages[channel].append(message)
        return message

    # --- inspection -----------------------------------------------------------------------

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and (ok is None or (c.error == "") == ok)
        ]

    def thread(self, channel: str, thread_ts: str) -> list[FakeMessage]:
        return sorted(
            (m for m in self.messages[channel] if m.ts == thread_ts or m.thread_ts == thread_ts),
            key=lambda m: m.ts,
        )

    def bot_messages(self, channel: str | None = None) -> list[FakeMessage]:
        channels = [channel] if channel else list(self.messages)
        return [m for c in channels for m in self.messages[c] if m.user == self.bot_user_id]

    def find(self, channel: str, ts: str) -> FakeMessage | None:
        return next((m for m in self.messages[channel] if m.ts == ts), None)

    @property
    def rate_limited(self) -> list[Call]:
        return [c for c in self.calls if c.status == 429]

    # --- HTTP -----------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or str(
            args.pop("token", "")
        )
        team = self.tokens.get(token, "")
        if method == "apps.connections.open" and token in self.app_tokens:
            team = self.team_id
        call = Call(method=method, args=args, team=team, at=time.monotonic())
        self.calls.append(call)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if not team:
            return self._fail(call, "invalid_auth")
        if self._failures[method]:
            error, status = self._failures[method].popleft()
            return self._fail(
                call, error, status=status, retry_after=1.0 if status == 429 else None
            )
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._fail(call, "unknown_method", status=404)
        channel = args.get("channel")
        if channel is not None and (
            channel in self.missing_channels or not _CHANNEL_ID.match(str(channel))
        ):
            return self._fail(call, "channel_not_found")
        result = handler(call, args)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, **result})

    def _fail(
        self, call: Call, error: str, *, status: int = 200, retry_after: float | None = None
    ) -> web.Response:
        call.status, call.error = status, error
        headers = {"Retry-After": f"{retry_after:.3f}"} if retry_after is not None else {}
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    # --- methods --------------------------------------------------------------------------

    def _m_auth_test(self, call: Call, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "parley",
            "team_id": call.team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _m_users_info(self, call: Call, args: dict[str, Any]) -> Any:
        wait = _bucket(self._users_info[call.team], call.at, self.users_info_limit, 60.0)
        if wait > 0:
            return self._fail(call, "ratelimited", status=429, retry_after=wait)
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            return self._fail(call, "user_not_found")
        return {"user": user}

    def _m_apps_connections_open(self, call: Call, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self.base_url.replace('http://', 'ws://')}/socket?ticket={call.at}"}

    def _m_chat_postMessage(self, call: Call, args: dict[str, Any]) -> Any:
        text = str(args.get("text") or "")
        if not text and not args.get("blocks"):
            return self._fail(call, "no_text")
        if len(text) > 40_000:
            return self._fail(call, "msg_too_long")
        wait = self._post_bucket(args["channel"], call.at)
        if wait > 0:
            return self._fail(call, "ratelimited", status=429, retry_after=wait)
        message = self._store(args["channel"], text, args, thread_ts=args.get("thread_ts"))
        call.ts = message.ts
        return {
            "channel": message.channel,
            "ts": message.ts,
            "message": {"text": text, "ts": message.ts, "user": self.bot_user_id},
        }

    def _m_chat_update(self, call: Call, args: dict[str, Any]) -> Any:
        text = str(args.get("text") or "")
        if len(text) > 4000:
            return self._fail(call, "msg_too_long")
        message = self.find(args["channel"], str(args.get("ts")))
        if message is None:
            return self._fail(call, "message_not_found")
        wait = _bucket(self._updates[call.team], call.at, self.update_limit, self.update_window_s)
        if wait > 0:
            return self._fail(call, "ratelimited", status=429, retry_after=wait)
        message.text = text
        message.blocks = _blocks(args.get("blocks"), message.blocks)
        message.edits.append(text)
        call.ts = message.ts
        return {"channel": message.channel, "ts": message.ts, "text": text}

    def _m_chat_postEphemeral(self, call: Call, args: dict[str, Any]) -> Any:
        if not args.get("user"):
            return self._fail(call, "user_not_in_channel")
        self.ephemerals.append(args)
        return {"message_ts": self.next_ts()}

    def _m_conversations_open(self, call: Call, args: dict[str, Any]) -> Any:
        if "im:write" not in self.scopes:
            return self._fail(call, "missing_scope")
        users = str(args.get("users") or "")
        if not users or "," in users:
            return self._fail(call, "user_not_found")
        return {"channel": {"id": "D" + users.upper().lstrip("UW")}}

    def _m_files_getUploadURLExternal(self, call: Call, args: dict[str, Any]) -> Any:
        if "files:write" not in self.scopes:
            return self._fail(call, "missing_scope")
        if not args.get("filename") or not str(args.get("length") or "").isdigit():
            return self._fail(call, "invalid_arguments")
        file_id = f"F{next(self._seq):08d}"
        self._uploads[file_id] = (int(args["length"]), None)
        return {"file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, call: Call, args: dict[str, Any]) -> Any:
        listed = json.loads(str(args.get("files") or "[]"))
        channel = str(args.get("channel_id") or "")
        if not _CHANNEL_ID.match(channel):
            return self._fail(call, "channel_not_found")
        shared = []
        for item in listed:
            _, data = self._uploads.get(item.get("id"), (0, None))
            if data is None:
                return self._fail(call, "file_not_found")
            shared.append({"id": item["id"], "title": item.get("title") or ""})
            self.files.append(
                {**shared[-1], "channel": channel, "data": data,
                 "initial_comment": args.get("initial_comment") or ""}
            )  # fmt: skip
        return {"files": shared}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.calls.append(Call(method="upload", args={"id": file_id}, team="", at=time.monotonic()))
        expected = self._uploads.get(file_id)
        if expected is None or expected[0] != len(data):
            return web.Response(status=400, text="length mismatch or unknown file")
        self._uploads[file_id] = (expected[0], data)
        return web.Response(text="OK - " + str(len(data)))

    def _m_conversations_replies(self, call: Call, args: dict[str, Any]) -> Any:
        thread = self.thread(str(args["channel"]), str(args.get("ts")))
        if not thread:
            return self._fail(call, "thread_not_found")
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        page = thread[start : start + limit]
        more = start + limit < len(thread)
        return {
            "messages": [_wire(m) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_assistant_threads_setStatus(self, call: Call, args: dict[str, Any]) -> Any:
        if not args.get("thread_ts") or "status" not in args:
            return self._fail(call, "invalid_arguments")
        self.statuses.append((str(args["channel_id"]), str(args["thread_ts"]), str(args["status"])))
        return {}

    def _m_chat_startStream(self, call: Call, args: dict[str, Any]) -> Any:
        if not args.get("thread_ts"):
            return self._fail(call, "invalid_arguments")
        if not str(args["channel"]).startswith("D") and not (
            args.get("recipient_user_id") and args.get("recipient_team_id")
        ):
            return self._fail(call, "missing_recipient_user_id")
        wait = self._post_bucket(args["channel"], call.at)
        if wait > 0:
            return self._fail(call, "ratelimited", status=429, retry_after=wait)
        message = self._store(
            args["channel"], str(args.get("markdown_text") or ""), args, thread_ts=args["thread_ts"]
        )
        message.streaming, message.stream_started = True, call.at
        return {"channel": message.channel, "ts": message.ts}

    def _m_chat_appendStream(self, call: Call, args: dict[str, Any]) -> Any:
        message = self._streaming(call, args)
        if isinstance(message, web.Response):
            return message
        message.text += str(args.get("markdown_text") or "")
        message.edits.append(message.text)
        return {"channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, call: Call, args: dict[str, Any]) -> Any:
        message = self._streaming(call, args)
        if isinstance(message, web.Response):
            return message
        message.text += str(args.get("markdown_text") or "")
        message.blocks = _blocks(args.get("blocks"), message.blocks)
        message.edits.append(message.text)
        message.streaming = False
        return {"channel": message.channel, "ts": message.ts, "message": _wire(message)}

    def _streaming(self, call: Call, args: dict[str, Any]) -> FakeMessage | web.Response:
        message = self.find(str(args["channel"]), str(args.get("ts")))
        if message is None:
            return self._fail(call, "message_not_found")
        wait = _bucket(self._appends[call.team], call.at, self.stream_limit, self.stream_window_s)
        if wait > 0:
            return self._fail(call, "ratelimited", status=429, retry_after=wait)
        if not message.streaming or call.at - message.stream_started > self.stream_ttl_s:
            message.streaming = False
            return self._fail(call, "message_not_in_streaming_state")
        return message

    def _post_bucket(self, channel: str, now: float) -> float:
        """Token bucket: `post_burst` posts at once, then one per `post_interval_s`."""
        if self.post_interval_s <= 0:
            return 0.0
        tokens, last = self._posts.get(channel, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - last) / self.post_interval_s)
        if tokens < 0.99:  # float rounding only
            self._posts[channel] = (tokens, now)
            return (1.0 - tokens) * self.post_interval_s
        self._posts[channel] = (tokens - 1.0, now)
        return 0.0

    def _store(
        self, channel: str, text: str, args: dict[str, Any], *, thread_ts: Any
    ) -> FakeMessage:
        message = FakeMessage(
            channel=channel,
            ts=self.next_ts(),
            text=text,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=str(thread_ts) if thread_ts else None,
            blocks=_blocks(args.get("blocks"), []),
            edits=[text],
        )
        self.messages[channel].append(message)
        return message

    # --- Socket Mode ----------------------------------------------------------------------

    async def socket_connected(self, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            await self._socket_open.wait()

    async def socket_push(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver a payload over Socket Mode (`events_api`, `slash_commands`, `interactive`);
        the app's ack lands in `socket_acks[envelope_id]`."""
        envelope_id = f"env-{next(self._seq)}"
        message = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        for ws in self._sockets:
            await ws.send_str(json.dumps(message))
        return envelope_id

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "connection_info": {"app_id": "A0FAKE"},
                }
            )
        )
        self._socket_open.set()
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if "envelope_id" in data:
                        self.socket_acks[data["envelope_id"]] = data
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_open.clear()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        call = Call(method="response_url", args={}, team="", at=time.monotonic())
        self.calls.append(call)
        url = self._response_urls.get(request.match_info["key"])
        refusal = (
            "no_service"
            if url is None
            else "expired_url"
            if call.at - url.issued >= self.response_url_ttl_s
            else "used_url"
            if url.uses >= self.response_url_uses
            else ""
        )
        if refusal or url is None:
            call.status, call.error = 404, refusal
            return web.Response(status=404, text=refusal)
        url.uses += 1
        call.args = await request.json()
        self.responses.append(call.args)
        return web.Response(text="ok")


@dataclass
class _ResponseUrl:
    issued: float
    """time.monotonic() when `new_response_url` made it."""
    uses: int = 0
    """Posts it accepted."""


def _bucket(times: deque[float], now: float, limit: int, window: float) -> float:
    """Sliding-window limiter: record `now` and return 0, or return the seconds to wait."""
    while times and now - times[0] >= window:
        times.popleft()
    if len(times) >= limit:
        return max(0.001, times[0] + window - now)
    times.append(now)
    return 0.0


def _blocks(raw: Any, previous: list[Any]) -> list[Any]:
    if raw is None:
        return previous
    if isinstance(raw, str):
        raw = json.loads(raw) if raw else []
    return list(raw)


def _wire(m: FakeMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "ts": m.ts, "text": m.text, "user": m.user}
    if m.thread_ts:
        out["thread_ts"] = m.thread_ts
    if m.bot_id:
        out["bot_id"] = m.bot_id
    return out


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            args.update(await request.json())
        else:
            args.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return args


# --- driving a bot: captured-shape payloads, signed like Slack --------------------------------


def sign(secret: str, body: str, *, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request (v0 HMAC-SHA256 of `v0:ts:body`)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_envelope(
    event: dict[str, Any],
    *,
    team_id: str = DEFAULT_TEAM,
    event_id: str | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A0FAKE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{hashlib.sha1(json.dumps(event).encode()).hexdigest()[:10]}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def message_event(
    message: FakeMessage,
    *,
    kind: str = "message",
    channel_type: str = "channel",
    team_id: str = DEFAULT_TEAM,
) -> dict[str, Any]:
    """The `event` of an app_mention / message.* delivery for a message the fake recorded."""
    event: dict[str, Any] = {
        "type": kind,
        "user": message.user,
        "text": message.text,
        "ts": message.ts,
        "channel": message.channel,
        "event_ts": message.ts,
        "team": team_id,
    }
    if kind == "message":
        event["channel_type"] = channel_type
    if message.thread_ts:
        event["thread_ts"] = message.thread_ts
    return event


def slash_command_form(
    text: str,
    *,
    response_url: str,
    command: str = "/parley",
    user_id: str = "U0USER1",
    channel_id: str = "C0GENERAL",
    team_id: str = DEFAULT_TEAM,
    trigger_id: str | None = None,
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "ada",
        "command": command,
        "text": text,
        "api_app_id": "A0FAKE",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"{time.time_ns()}.trigger",
    }


def block_actions_payload(
    action: str,
    approval_id: str,
    *,
    channel: str,
    message_ts: str,
    thread_ts: str | None = None,
    user_id: str = "U0USER1",
    team_id: str = DEFAULT_TEAM,
    response_url: str = "",
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "ts": message_ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": "Approve?",
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": "ada", "name": "ada", "team_id": team_id},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
            **({"thread_ts": thread_ts} if thread_ts else {}),
        },
        "trigger_id": f"{time.time_ns()}.trigger",
        "team": {"id": team_id, "domain": "fake"},
        "channel": {"id": channel, "name": "general"},
        "message": message,
        "response_url": response_url,
        "actions": [
            {
                "action_id": f"parley_{action}",
                "block_id": "parley_actions",
                "text": {"type": "plain_text", "text": action.title()},
                "value": approval_id,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


class SlackEventSender:
    """Posts signed requests to a bot's Slack endpoint, as Slack would."""

    def __init__(self, url: str, signing_secret: str) -> None:
        self.url = url
        self.secret = signing_secret
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SlackEventSender:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        retry_num: int | None = None,
    ) -> tuple[int, str]:
        assert self._session is not None, "use `async with SlackEventSender(...)`"
        headers = {
            "Content-Type": content_type,
            **sign(self.secret if secret is None else secret, body, timestamp=timestamp),
        }
        if retry_num:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        async with self._session.post(self.url, data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def event(self, envelope: dict[str, Any], **kw: Any) -> tuple[int, str]:
        return await self.post(json.dumps(envelope), "application/json", **kw)

    async def command(self, form: dict[str, str], **kw: Any) -> tuple[int, str]:
        return await self.post(
            urllib.parse.urlencode(form), "application/x-www-form-urlencoded", **kw
        )

    async def action(self, payload: dict[str, Any], **kw: Any) -> tuple[int, str]:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kw)
