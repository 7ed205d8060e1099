"""The Slack transport: Bolt's AsyncApp around the pure `normalize` / `render` functions.

How it works:
- Inbound, HTTP mode: `mount()` adds POST `/slack/events` to the shared aiohttp app. Each request
  first passes `gate.admit` (at most 1 MB read, the signature checked with slack_sdk's
  `SignatureVerifier`, the body parsed, the fields Bolt reads type-checked): strangers get
  401/400/413 and signed but malformed payloads 200, each with one WARNING line and never the
  body. Only then does Bolt dispatch it (and check the signature again). Socket Mode (SLACK_APP_TOKEN set) feeds the same
  Bolt app over a websocket instead.
- Every listener acks first, then normalizes and hands the event to the sink in a background
  task (kept in `_tasks` so it is neither garbage-collected nor lost at `stop`). Slack's 3 s ack
  deadline therefore never depends on the LLM. A slash command that asks a question (by the
  core's one grammar) is acked `in_channel`, so the channel sees what was asked.
- Follow-ups, placement and commands are the core's: this adapter only answers the follow-up
  policy's question about a thread (`bot_in_thread`, one `conversations.replies`).
- Outbound: `send` / `edit` / `send_private` render with `render.py` and call the Web API through
  `errors.call`, which turns every `ok: false` into RateLimited / MessageTooLong / PlatformError.
  Private replies go through the origin's `response_url` while it is valid (slash commands and
  clicks) and has uses left (`respond`: five per URL, counted here), else
  `chat.postEphemeral`. Throttling is the core's: `capabilities` declares Slack's
  limits (chat.postMessage per channel, chat.update and chat.appendStream per workspace, each
  its own budget) and `bot.delivery` enforces them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import SLACK_TEXT_LIMIT, call
from adapters.slack.files import upload_private_file
from adapters.slack.gate import MAX_BODY_BYTES, admit
from adapters.slack.normalize import (
    ACTION_PREFIX,
    RECIPIENT,
    BotIdentity,
    normalize,
    plain_text,
)
from adapters.slack.render import SlackMessage, render
from adapters.slack.respond import ResponseUrls, ResponseUrlSpent, post_response
from adapters.slack.roles import SlackRoles
from adapters.slack.stream import SlackNativeStream
from bot.adapter import EventSink, NativeStream, ThreadMessage
from bot.capabilities import Capabilities, Op, Placement, RateLimit, RateScope
from bot.core.grammar import parse
from bot.errors import ConfigError, MessageTooLong, PlatformError
from bot.events import Command, Event, Origin
from bot.http import Refused, read_body
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationKind, ConversationRef, MessageHandle

log = get_logger("adapters.slack")

EVENTS_PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"


def slack_capabilities(*, native_stream: bool = False, time_scale: float = 1.0) -> Capabilities:
    """Slack's limits, each its own budget: chat.postMessage about 1/s per channel with short
    bursts tolerated (a bucket of 3), chat.update Tier 3 (50/min per workspace), chat.appendStream Tier 4
    (100/min per workspace), chat.postEphemeral Tier 4; 4,000-char edits (kept 100 under).
    `time_scale` < 1 compresses every window (benchmarks)."""

    def limit(
        ops: set[Op],
        scope: RateScope,
        calls: int,
        window_s: float,
        name: str,
        burst: int | None = None,
    ) -> RateLimit:
        window = window_s * time_scale
        return RateLimit(
            ops=frozenset(ops), scope=scope, calls=calls, window_s=window, name=name, burst=burst
        )

    return Capabilities(
        max_post_chars=3900,
        max_edit_chars=3900,
        min_edit_interval_s=1.0 * time_scale,
        rate_limits=(
            limit({Op.POST}, RateScope.CHANNEL, 1, 1.0, "chat.postMessage", burst=3),
            limit({Op.EDIT}, RateScope.WORKSPACE, 50, 60.0, "chat.update"),
            limit({Op.STREAM}, RateScope.WORKSPACE, 100, 60.0, "chat.appendStream"),
            limit({Op.PRIVATE}, RateScope.WORKSPACE, 100, 60.0, "chat.postEphemeral"),
            limit({Op.TYPING}, RateScope.WORKSPACE, 50, 60.0, "assistant.threads.setStatus"),
        ),
        native_stream=(
            frozenset({ConversationKind.THREAD, ConversationKind.DIRECT})
            if native_stream
            else frozenset()
        ),
        native_status=native_stream,
        buttons=True,
        ephemeral=True,
        channel_reply=Placement.THREAD,
    )


class SlackAdapter:
    """Adapter + HttpMounted + ThreadReader + ThreadProbe + RoleDirectory (+ NativeStreaming and
    StatusIndicator when `native_streaming`)."""

    name = "slack"

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str = "",
        app_token: str = "",
        api_url: str = DEFAULT_API_URL,
        command: str = "/parley",
        native_streaming: bool = False,
        capabilities: Capabilities | None = None,
    ) -> None:
        if not signing_secret and not app_token:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required for HTTP mode (Basic Information → App "
                "Credentials), or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode."
            )
        self.capabilities = capabilities or slack_capabilities(native_stream=native_streaming)
        self.command = command
        self.socket_mode = bool(app_token)
        self._app_token = app_token
        self._signing_secret = signing_secret
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        # retry_handlers=[]: the delivery engine is the one retry policy (the SDK's default would
        # resend a post after a connection error on its own).
        self._client = AsyncWebClient(
            token=bot_token, base_url=_with_slash(api_url), retry_handlers=[]
        )
        self._roles = SlackRoles(self._client)
        self._response_urls = ResponseUrls()
        self._bolt = AsyncApp(
            client=self._client,
            signing_secret=signing_secret,
            request_verification_enabled=bool(signing_secret),
            process_before_response=False,
        )
        self._bolt.event("app_mention")(self._on_payload)
        self._bolt.event("message")(self._on_payload)
        self._bolt.command(command)(self._on_command)
        self._bolt.action(re.compile(f"^{ACTION_PREFIX}"))(self._on_payload)
        self._sink: EventSink | None = None
        self._bot = BotIdentity(user_id="")
        self._session: aiohttp.ClientSession | None = None
        self._socket: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        if native_streaming:  # an AI app: native streams and the assistant status line
            self.open_native_stream = self._open_native_stream
            self.set_status = self._set_status

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def bot(self) -> BotIdentity:
        return self._bot

    async def start(self, sink: EventSink) -> None:
        self._session = aiohttp.ClientSession()
        self._client.session = self._session
        data = await call("auth.test", self._client.auth_test())
        self._bot = BotIdentity(
            user_id=str(data.get("user_id", "")), bot_id=str(data.get("bot_id", ""))
        )
        self._sink = sink
        if self.socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(
                self._bolt, self._app_token, web_client=self._client
            )
            # Ask for the websocket URL ourselves: a bad app token then fails here, loudly,
            # instead of inside the SDK's endless reconnect loop.
            opened = await call(
                "apps.connections.open",
                self._client.apps_connections_open(app_token=self._app_token),
            )
            self._socket.client.wss_uri = str(opened.get("url", "")) or None
            await self._socket.connect_async()
        log.info(
            "slack.started",
            bot_user_id=self._bot.user_id,
            team=data.get("team_id"),
            mode="socket" if self.socket_mode else "http",
        )

    async def stop(self) -> None:
        self._sink = None
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._client.session = None

    def mount(self, app: web.Application) -> None:
        """POST /slack/events on the shared server (HTTP mode; needs the signing secret)."""
        if not self._signing_secret:
            log.info("slack.http_not_mounted", reason="Socket Mode without SLACK_SIGNING_SECRET")
            return
        app.router.add_post(EVENTS_PATH, self.handle_http)

    async def handle_http(self, request: web.Request) -> web.Response:
        """See `gate`: refuse what is unsigned, too big or unparseable; drop what is malformed."""
        body = await read_body(request, MAX_BODY_BYTES)
        if body is None:
            return self._refuse(request, Refused(413, "body over 1 MB"))
        assert self._verifier is not None  # mounted only with a signing secret
        verdict = admit(self._verifier, request.headers, body)
        if isinstance(verdict, Refused):
            return self._refuse(request, verdict)
        if verdict.malformed:
            log.warning("slack.malformed_payload", reason=verdict.malformed)
            return web.Response(status=200)
        try:
            bolt_request = AsyncBoltRequest(
                body=verdict.text, query=request.query_string, headers=dict(request.headers)
            )
            response = await self._bolt.async_dispatch(bolt_request)
        except Exception as exc:  # a shape the gate did not foresee: still the sender's fault
            log.warning("slack.malformed_payload", reason=type(exc).__name__)
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    @staticmethod
    def _refuse(request: web.Request, refused: Refused) -> web.Response:
        log.warning(
            "slack.request_refused",
            status=refused.status,
            reason=refused.reason,
            remote=request.remote,
            length=request.content_length,
        )
        return web.Response(status=refused.status, text=refused.reason)

    # --- inbound --------------------------------------------------------------------------

    async def _on_payload(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        self._accept(body)

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        event = self._normalize(body)
        # A question is public: echo it in the channel; commands stay private.
        asked = parse(event.text, typed=False) if isinstance(event, Command) else None
        if asked is not None and asked.name == "ask":
            await ack(response_type="in_channel")
        else:
            await ack()
        if event is not None:
            self._spawn(self._deliver(event))

    def _normalize(self, body: dict[str, Any]) -> Event | None:
        try:
            return normalize(body, self._bot)
        except Exception:  # normalize is total (property-tested); this is a bug, not bad input
            log.exception("slack.normalize_failed")
            return None

    def _accept(self, body: dict[str, Any]) -> None:
        event = self._normalize(body)
        if event is not None:
            self._spawn(self._deliver(event))

    async def _deliver(self, event: Event) -> None:
        sink = self._sink
        if sink is None:
            log.warning("slack.event_before_start", event_id=event.event_id)
            return
        try:
            await sink(event)  # a click's result is applied by the core (no sync response)
        except Exception:
            log.exception("slack.sink_failed", event_id=event.event_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- RoleDirectory --------------------------------------------------------------------

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool:
        """Workspace admins and owners (`adapters.slack.roles`)."""
        return await self._roles.is_platform_admin(ref, user_id)

    # --- ThreadProbe ----------------------------------------------------------------------

    async def bot_in_thread(self, ref: ConversationRef) -> bool:
        if not ref.thread_id:
            return False
        data = await call(
            "conversations.replies",
            self._client.conversations_replies(channel=ref.channel_id, ts=ref.thread_id, limit=200),
        )
        me = self._bot
        return any(
            m.get("user") == me.user_id
            or (me.bot_id and m.get("bot_id") == me.bot_id)
            or f"<@{me.user_id}" in str(m.get("text", ""))
            for m in data.get("messages") or ()
        )

    # --- outbound -------------------------------------------------------------------------

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        payload = _checked(render(message), "chat.postMessage")
        data = await call(
            "chat.postMessage",
            self._client.chat_postMessage(
                channel=ref.channel_id,
                thread_ts=ref.thread_id,
                text=payload.text,
                blocks=payload.blocks or None,
                unfurl_links=False,
                unfurl_media=False,
            ),
            text_length=len(payload.text),
        )
        return MessageHandle(ref=ref, message_id=str(data.get("ts", "")))

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        payload = _checked(render(message), "chat.update")
        # `blocks=[]` clears earlier blocks (e.g. buttons once an approval is decided).
        await call(
            "chat.update",
            self._client.chat_update(
                channel=handle.ref.channel_id,
                ts=handle.message_id,
                text=payload.text,
                blocks=payload.blocks,
            ),
            text_length=len(payload.text),
        )

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        payload = _checked(render(message), "chat.postEphemeral")
        url = origin.token  # the core clears a token past its lifetime; `respond` counts uses
        if url.startswith(("https://", "http://")) and self._response_urls.claim(url):
            try:
                await post_response(self._session, url, payload)
                return
            except ResponseUrlSpent as exc:
                self._response_urls.spend(url)
                log.info("slack.response_url_spent", code=exc.code, fallback="chat.postEphemeral")
        await call(
            "chat.postEphemeral",
            self._client.chat_postEphemeral(
                channel=ref.channel_id,
                user=user_id,
                thread_ts=ref.thread_id,
                text=payload.text,
                blocks=payload.blocks or None,
            ),
            text_length=len(payload.text),
        )

    # --- ThreadReader ---------------------------------------------------------------------

    async def read_thread(
        self, ref: ConversationRef, *, before: str, limit: int
    ) -> list[ThreadMessage]:
        """The thread's messages before `before` (the one that summoned us), oldest first."""
        if not ref.thread_id:
            return []
        found: list[ThreadMessage] = []
        cursor: str | None = None
        for _ in range(10):  # at most 2,000 messages
            data = await call(
                "conversations.replies",
                self._client.conversations_replies(
                    channel=ref.channel_id, ts=ref.thread_id, limit=200, cursor=cursor
                ),
            )
            for m in data.get("messages") or ():
                ts = str(m.get("ts", ""))
                if before and ts >= before:
                    continue
                seeded = self._seed(m)
                if seeded is not None:
                    found.append(seeded)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return found[-limit:] if limit > 0 else []

    def _seed(self, message: Mapping[str, Any]) -> ThreadMessage | None:
        me = self._bot
        text = plain_text(str(message.get("text", "")), me.user_id)
        if not text:
            return None
        ours = message.get("user") == me.user_id or bool(
            me.bot_id and message.get("bot_id") == me.bot_id
        )
        if not ours and (
            message.get("bot_id")
            or message.get("subtype") not in (None, "thread_broadcast", "file_share")
        ):
            return None  # other bots and system messages are not the conversation
        profile = message.get("user_profile") or {}
        name = str(profile.get("display_name") or profile.get("real_name") or "")
        author = Author(id=str(message.get("user", "")), display_name=name, is_bot=ours)
        return ThreadMessage(
            author=author, text=text, from_bot=ours, message_id=str(message.get("ts", ""))
        )

    # --- NativeStreaming (bound in __init__ when enabled) ------------------------------------

    async def _open_native_stream(
        self, ref: ConversationRef, origin: Origin | None
    ) -> NativeStream | None:
        if not ref.thread_id:
            return None
        user, team = "", ""
        if origin is not None and origin.token.startswith(RECIPIENT):
            user, _, team = origin.token[len(RECIPIENT) :].partition(":")
        is_dm = ref.kind is ConversationKind.DIRECT
        if not is_dm and not user:
            return None
        return await SlackNativeStream.open(
            self._client,
            ref,
            edit=self.edit,
            recipient_user_id="" if is_dm else user,
            recipient_team_id="" if is_dm else (team or ref.workspace_id),
        )

    async def send_private_file(
        self, ref: ConversationRef, user_id: str, name: str, data: bytes, *, origin: Origin
    ) -> str:
        """`bot.adapter.PrivateFiles`: into the user's DM with the bot (`adapters.slack.files`)."""
        return await upload_private_file(self._client, user_id, name, data, comment=name)

    async def _set_status(self, ref: ConversationRef, text: str) -> None:
        """The thread's status line ("is searching the knowledge base…"); "" clears it."""
        if not ref.thread_id:
            raise PlatformError("Slack shows a status only in a thread", method="setStatus")
        await call(
            "assistant.threads.setStatus",
            self._client.assistant_threads_setStatus(
                channel_id=ref.channel_id, thread_ts=ref.thread_id, status=text
            ),
        )


def _checked(payload: SlackMessage, method: str) -> SlackMessage:
    """Refuse locally what Slack would refuse: mrkdwn escaping can make text longer."""
    if len(payload.text) > SLACK_TEXT_LIMIT:
        raise MessageTooLong(len(payload.text), SLACK_TEXT_LIMIT, method=method)
    return payload


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
