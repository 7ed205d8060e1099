"""A loopback fake of the Bot Framework Connector (the activity's `serviceUrl`), driven by the real
botbuilder `ConnectorClient` the Teams adapter uses.

    async with FakeConnector() as fake:
        conv = fake.channel_thread()          # or fake.personal_chat(), fake.group_chat()
        activity = fake.inbound(conv, "<at>Parley</at> hi", mention=True)

It records every call (`fake.calls`) and the activities the bot wrote (`fake.activities`, each
with every text it showed), and enforces what the Connector enforces for Teams, so a bot that
gets it wrong sees what it would see in production:
- per-conversation limits, all at once: 7 calls / 1 s, 60 / 30 s, 1,800 / 1 h (every write
  counts: posts, replies, updates, typing and stream chunks; a channel's reply chains count as
  the one channel conversation, the strict reading of Teams' "per thread") → HTTP 429 with
  Retry-After;
  `time_scale` shrinks every window for fast tests (0.1: 7 / 0.1 s …);
- 413 when a request body passes `max_body_bytes` (Teams documents ~100 KB per message);
- streaming (typing activities with a `streaminfo` entity): only in personal chats (403
  ContentStreamNotAllowed elsewhere); the first chunk has no streamId and gets one back, later
  chunks carry it with a strictly increasing `streamSequence` (400 otherwise); at most about one
  chunk per `stream_interval_s` (429); `stream_cap_s` (2 minutes) after the start every chunk and
  the final message are refused with 403 ContentStreamHasExceededMaxAllowedTime; a finished stream
  takes nothing more (400);
- 404 for a conversation it does not know, or an activity that is not there;
- with `bot_token`, 401 for a call without that bearer token (what Entra ID would have issued).

It also builds captured-shape inbound activities (`inbound`, `conversation_update`,
`invoke_action`, `submit_action`, from `tests.fakes.teams_activities`) for driving a bot's
`/api/messages`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.teams_activities import USER_ID, ActivityBuilder

TEAMS_LIMITS = ((7, 1.0), (60, 30.0), (1800, 3600.0))
"""(calls, window seconds) per bot per conversation, from Teams' rate-limit docs."""


@dataclass
class Conversation:
    id: str
    kind: str
    """personal, groupChat or channel (Teams' conversationType)."""
    team_id: str = ""
    channel_id: str = ""


@dataclass
class Call:
    method: str
    """send, reply, update, create."""
    conversation_id: str
    body: dict[str, Any]
    at: float
    status: int = 0
    """The answer's HTTP status (0 while the request is in flight)."""
    error: str = ""
    activity_id: str = ""


@dataclass
class FakeActivity:
    id: str
    conversation_id: str
    type: str
    text: str
    reply_to_id: str = ""
    attachments: list[Any] = field(default_factory=list)
    entities: list[Any] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    """Every text this activity showed, in order (post, then each accepted update)."""


@dataclass
class Stream:
    id: str
    conversation_id: str
    started: float
    sequence: int
    last_at: float
    chunks: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None


class FakeConnector(ActivityBuilder):
    def __init__(
        self,
        *,
        limits: tuple[tuple[int, float], ...] = TEAMS_LIMITS,
        time_scale: float = 1.0,
        max_body_bytes: int = 100 * 1024,
        stream_interval_s: float = 1.0,
        stream_cap_s: float = 120.0,
        latency_s: float = 0.0,
        bot_token: str = "",
    ) -> None:
        self.bot_token = bot_token
        """When set, every call must carry `Authorization: Bearer <bot_token>` (else 401)."""
        self.limits = tuple((calls, window * time_scale) for calls, window in limits)
        self.max_body_bytes = max_body_bytes
        self.stream_interval_s = stream_interval_s
        self.stream_tolerance_s = 0.1 * stream_interval_s
        self.stream_cap_s = stream_cap_s
        self.latency_s = latency_s
        self.conversations: dict[str, Conversation] = {}
        self.calls: list[Call] = []
        self.activities: dict[str, FakeActivity] = {}
        self.streams: dict[str, Stream] = {}
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._seq = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeConnector:
        app = web.Application(client_max_size=10 * 1024**2)
        app.router.add_post("/teams/v3/conversations", self._create)
        app.router.add_post("/teams/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/teams/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/teams/v3/conversations/{cid}/activities/{aid}", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeConnector:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def service_url(self) -> str:
        """What Teams puts in every activity's `serviceUrl` (with its trailing slash)."""
        return f"{self.base_url}/teams/"

    # --- conversations ----------------------------------------------------------------------

    def personal_chat(self, user: str = USER_ID) -> Conversation:
        return self._add(Conversation(id=f"a:1personal-{user}-{next(self._seq)}", kind="personal"))

    def group_chat(self) -> Conversation:
        return self._add(Conversation(id=f"19:group{next(self._seq)}@thread.v2", kind="groupChat"))

    def channel(self) -> Conversation:
        n = next(self._seq)
        return self._add(
            Conversation(
                id=f"19:channel{n}@thread.tacv2",
                kind="channel",
                team_id=f"19:team{n}@thread.tacv2",
                channel_id=f"19:channel{n}@thread.tacv2",
            )
        )

    def reply_chain(self, channel: Conversation, root_id: str) -> Conversation:
        """The conversation Teams gives a reply chain: the channel id with `;messageid=<root>`."""
        return self._add(
            Conversation(
                id=f"{channel.id};messageid={root_id}",
                kind="channel",
                team_id=channel.team_id,
                channel_id=channel.channel_id,
            )
        )

    def _add(self, conversation: Conversation) -> Conversation:
        self.conversations[conversation.id] = conversation
        return conversation

    def next_id(self) -> str:
        return f"{1_700_000_000_000 + next(self._seq)}"

    # --- inspection -----------------------------------------------------------------------

    def written(self, conversation_id: str) -> list[FakeActivity]:
        """The bot's message activities in a conversation, in the order they were posted."""
        return [
            a
            for a in self.activities.values()
            if a.conversation_id == conversation_id and a.type == "message"
        ]

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and (ok is None or (200 <= c.status < 300) == ok)
        ]

    @property
    def rate_limited(self) -> list[Call]:
        return [c for c in self.calls if c.status == 429]

    # --- HTTP -----------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        call = self._record("create", "", body)
        if not self._authorized(request):
            return self._fail(call, 401, "Unauthorized", "bad or missing bearer token")
        members = body.get("members") or []
        if body.get("isGroup") or len(members) != 1:
            return self._fail(call, 400, "BadArgument", "one member, isGroup false")
        conversation = self.personal_chat(str(members[0].get("id", "")))
        call.status = 201
        return web.json_response({"id": conversation.id, "activityId": ""}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        return await self._write(request, "send", request.match_info["cid"], "")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._write(
            request, "reply", request.match_info["cid"], request.match_info["aid"]
        )

    async def _update(self, request: web.Request) -> web.Response:
        cid, aid = request.match_info["cid"], request.match_info["aid"]
        raw = await request.read()
        body = json.loads(raw or b"{}")
        call = self._record("update", cid, body)
        refused = await self._gate(call, cid, len(raw), request)
        if refused is not None:
            return refused
        existing = self.activities.get(aid)
        if existing is None or existing.conversation_id != cid:
            return self._fail(call, 404, "ActivityNotFound", aid)
        existing.text = str(body.get("text") or "")
        existing.attachments = list(body.get("attachments") or [])
        existing.entities = list(body.get("entities") or [])
        existing.texts.append(existing.text)
        call.activity_id, call.status = aid, 200
        return web.json_response({"id": aid})

    async def _write(
        self, request: web.Request, method: str, cid: str, reply_to: str
    ) -> web.Response:
        raw = await request.read()
        body = json.loads(raw or b"{}")
        call = self._record(method, cid, body)
        refused = await self._gate(call, cid, len(raw), request)
        if refused is not None:
            return refused
        info = _stream_info(body)
        if info is not None:
            return self._stream(call, cid, body, info)
        return self._store(call, cid, body, reply_to)

    def _record(self, method: str, cid: str, body: dict[str, Any]) -> Call:
        call = Call(method=method, conversation_id=cid, body=body, at=time.monotonic())
        self.calls.append(call)
        return call

    def _authorized(self, request: web.Request) -> bool:
        if not self.bot_token:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.bot_token}"

    async def _gate(
        self, call: Call, cid: str, size: int, request: web.Request
    ) -> web.Response | None:
        """The checks every write passes: latency, the bot's token, a known conversation, size,
        rate."""
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if not self._authorized(request):
            return self._fail(call, 401, "Unauthorized", "bad or missing bearer token")
        if cid not in self.conversations:
            return self._fail(call, 404, "ConversationNotFound", cid)
        if size > self.max_body_bytes:
            return self._fail(call, 413, "MessageSizeTooBig", f"{size} bytes")
        wait = self._take(cid.partition(";messageid=")[0], call.at)
        if wait > 0:
            return self._fail(call, 429, "Throttled", "", retry_after=wait)
        return None

    def _take(self, cid: str, now: float) -> float:
        """A slot in every window, or how long until there is one (nothing is taken then)."""
        stamps = self._windows[cid]
        longest = max(w for _, w in self.limits)
        while stamps and stamps[0] <= now - longest:
            stamps.popleft()
        wait = 0.0
        for calls, window in self.limits:
            recent = [t for t in stamps if t > now - window]
            if len(recent) >= calls:
                wait = max(wait, recent[-calls] + window - now)
        if wait <= 0:
            stamps.append(now)
        return wait

    def _store(self, call: Call, cid: str, body: dict[str, Any], reply_to: str) -> web.Response:
        kind = str(body.get("type") or "")
        if kind not in {"message", "typing"}:
            return self._fail(call, 400, "BadArgument", f"activity type {kind!r}")
        text = str(body.get("text") or "")
        if kind == "message" and not text and not body.get("attachments"):
            return self._fail(call, 400, "BadArgument", "empty message")
        aid = self.next_id()
        self.activities[aid] = FakeActivity(
            id=aid,
            conversation_id=cid,
            type=kind,
            text=text,
            reply_to_id=reply_to,
            attachments=list(body.get("attachments") or []),
            entities=list(body.get("entities") or []),
            texts=[text],
        )
        call.activity_id, call.status = aid, 201
        return web.json_response({"id": aid}, status=201)

    def _stream(
        self, call: Call, cid: str, body: dict[str, Any], info: dict[str, Any]
    ) -> web.Response:
        if self.conversations[cid].kind != "personal":
            return self._fail(call, 403, "ContentStreamNotAllowed", "personal chats only")
        kind = str(body.get("type") or "")
        stream_type = str(info.get("streamType") or "")
        stream_id = str(info.get("streamId") or "")
        if kind == "message":
            if stream_type != "final" or stream_id not in self.streams:
                return self._fail(call, 400, "BadArgument", "final needs a known streamId")
            stream = self.streams[stream_id]
            refused = self._check_open(call, stream)
            if refused is not None:
                return refused
            stream.final = body
            return self._store_final(call, stream, body)
        if kind != "typing" or stream_type not in {"informative", "streaming"}:
            return self._fail(call, 400, "BadArgument", f"{kind} / {stream_type}")
        sequence = info.get("streamSequence")
        if not isinstance(sequence, int):
            return self._fail(call, 400, "BadArgument", "streamSequence missing")
        if not stream_id:
            if sequence != 1:
                return self._fail(call, 400, "BadArgument", "a new stream starts at 1")
            stream_id = self.next_id()
            stream = Stream(
                id=stream_id, conversation_id=cid, started=call.at, sequence=0, last_at=0.0
            )
            self.streams[stream_id] = stream
        elif stream_id not in self.streams:
            return self._fail(call, 400, "BadArgument", "unknown streamId")
        stream = self.streams[stream_id]
        refused = self._check_open(call, stream)
        if refused is not None:
            return refused
        if sequence <= stream.sequence:
            return self._fail(
                call, 400, "ContentStreamSequenceOrderPreConditionFailed", str(sequence)
            )
        since = call.at - stream.last_at
        if stream.chunks and since < self.stream_interval_s - self.stream_tolerance_s:
            return self._fail(
                call, 429, "Throttled", "stream", retry_after=self.stream_interval_s - since
            )
        stream.sequence, stream.last_at = sequence, call.at
        stream.chunks.append(body)
        call.activity_id, call.status = stream_id, 201
        return web.json_response({"id": stream_id}, status=201)

    def _check_open(self, call: Call, stream: Stream) -> web.Response | None:
        if stream.final is not None and call.body is not stream.final:
            return self._fail(call, 400, "ContentStreamNotAllowed", "the stream has ended")
        if call.at - stream.started > self.stream_cap_s:
            return self._fail(call, 403, "ContentStreamHasExceededMaxAllowedTime", stream.id)
        return None

    def _store_final(self, call: Call, stream: Stream, body: dict[str, Any]) -> web.Response:
        text = str(body.get("text") or "")
        self.activities[stream.id] = FakeActivity(
            id=stream.id,
            conversation_id=stream.conversation_id,
            type="message",
            text=text,
            attachments=list(body.get("attachments") or []),
            entities=list(body.get("entities") or []),
            texts=[str(c.get("text") or "") for c in stream.chunks] + [text],
        )
        call.activity_id, call.status = stream.id, 201
        return web.json_response({"id": stream.id}, status=201)

    def _fail(
        self, call: Call, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> web.Response:
        call.status, call.error = status, code
        headers = {"Retry-After": f"{retry_after:.3f}"} if retry_after is not None else {}
        return web.json_response(
            {"error": {"code": code, "message": message}}, status=status, headers=headers
        )


def _stream_info(body: dict[str, Any]) -> dict[str, Any] | None:
    for entity in body.get("entities") or ():
        if isinstance(entity, dict) and entity.get("type") == "streaminfo":
            return entity
    return None
