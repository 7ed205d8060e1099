"""The Teams transport: botbuilder's CloudAdapter on POST /api/messages, around the pure
`normalize` / `render` functions.

How it works:
- Inbound: `mount()` adds POST `/api/messages` to the shared aiohttp server. A request is read
  through `door` (415 / 413 over 256 KB / 400 for what is not a JSON activity, each one WARNING
  line), authenticated first by `auth.authenticate` (401,
  or 503 when the signing keys cannot be fetched: botbuilder itself would answer 500), then run
  through `CloudAdapter.process_activity` with the authentication result, so botbuilder builds
  the turn (and its connector client) without validating twice.
- In the turn: a conversationUpdate that adds the bot gets a short welcome; everything else goes
  through `normalize`. Messages are handed to the sink in a background task (kept in `_tasks`)
  and the request is answered 201 at once. A click on an Action.Execute (`adaptiveCard/action`
  invoke) waits for the sink's `ActionResult` and answers the invoke with it: the refreshed card
  for `update`, a message for `private` (Teams shows it to the clicker only). If the sink takes
  longer than the invoke deadline, Teams gets "Working on it…" and the result is applied by
  editing the card when it comes. A click on the Action.Submit fallback has no synchronous
  answer: the adapter edits the card and sends the private note itself.
- Outbound (`send`, `edit`, `send_private`, `typing`, native streams) goes through
  `connector.Connector` to the ref's route, the serviceUrl Teams gave with the conversation, so
  the bot can post after a restart. Rate limits are declared in `teams_capabilities` (per
  conversation: 7 / 1 s, 60 / 30 s, 1,800 / h for every write, plus one stream chunk per
  second) and enforced by the delivery engine; errors are raised typed, never retried here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from functools import partial
from typing import Any

from aiohttp import web
from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.invoke_response import InvokeResponse
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ActivityTypes
from botframework.connector.auth import ServiceClientCredentialsFactory

from adapters.teams.auth import Refused, TeamsAuth, authenticate, build_authentication
from adapters.teams.cards import CARD_CONTENT_TYPE, card_attachment
from adapters.teams.connector import MAX_BODY_BYTES, Connector
from adapters.teams.door import read_activity
from adapters.teams.normalize import conversation_id, is_bot_installed, normalize
from adapters.teams.render import render
from adapters.teams.stream import STREAM_CAP_S, TeamsNativeStream
from bot.adapter import EventSink
from bot.capabilities import ALL_OPS, Capabilities, Op, Placement, RateLimit, RateScope
from bot.errors import ParleyError, PlatformError
from bot.events import ActionClick, ActionResult, Event, Origin
from bot.http import Refused as DoorRefused
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.refs import ConversationKind, ConversationRef, MessageHandle

log = get_logger("adapters.teams")

MESSAGES_PATH = "/api/messages"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
WELCOME = (
    "Hi, I'm **Parley**. Ask me anything about your team's documents: @mention me in a channel "
    "or a group chat, or just write to me here. Type **help** for what else I can do."
)
INVOKE_BUDGET_S = 4.0
"""How long a click's invoke waits for the result (Teams gives up after about 5 s)."""


def teams_capabilities(*, window_scale: float = 1.0) -> Capabilities:
    """Teams' limits. Every write to a conversation counts against the same three windows
    (Teams says "per thread"; they are counted per channel, so every reply chain of a channel
    shares them: the strict reading, which can never be over Teams' count); a stream takes about
    one chunk per second on top. `window_scale` shrinks the windows (tests and benchmarks
    against the fake at a faster clock)."""
    windows = ((7, 1.0, "1 s"), (60, 30.0, "30 s"), (1800, 3600.0, "1 h"))
    return Capabilities(
        max_post_chars=12_000,
        max_edit_chars=12_000,
        min_edit_interval_s=1.0 * window_scale,
        rate_limits=(
            *(
                RateLimit(
                    ops=ALL_OPS,
                    scope=RateScope.CHANNEL,
                    calls=calls,
                    window_s=window * window_scale,
                    name=f"teams per-thread {name}",
                )
                for calls, window, name in windows
            ),
            RateLimit(
                ops=frozenset({Op.STREAM}),
                scope=RateScope.THREAD,
                calls=1,
                window_s=1.0 * window_scale,
                name="teams streaming",
            ),
        ),
        native_stream=frozenset({ConversationKind.DIRECT}),
        typing_interval_s=3.0,
        buttons=True,
        ephemeral=False,
        action_response=True,
        channel_reply=Placement.THREAD,
    )


class TeamsAdapter:
    """Adapter + HttpMounted + NativeStreaming + Typing."""

    name = "teams"

    def __init__(
        self,
        auth: TeamsAuth,
        *,
        capabilities: Capabilities | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        now: Callable[[], float] = time.monotonic,
        stream_cap_s: float = STREAM_CAP_S,
        welcome: str = WELCOME,
        credentials: ServiceClientCredentialsFactory | None = None,
    ) -> None:
        self.capabilities = capabilities or teams_capabilities()
        self._auth = auth
        self._authentication = build_authentication(auth, credentials)
        self._cloud = CloudAdapter(self._authentication)
        self.connector = Connector(self._authentication, app_id=auth.app_id, max_bytes=max_bytes)
        self._now = now
        self._stream_cap_s = stream_cap_s
        self._welcome = welcome
        self._sink: EventSink | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        self._sink = sink
        if self._auth.anonymous:
            log.warning(
                "teams.anonymous",
                detail="TEAMS_ALLOW_ANONYMOUS=true and no TEAMS_APP_ID: /api/messages accepts "
                "requests without a token. Use this for local testing only.",
            )
        log.info("teams.started", app_id=self._auth.app_id or "(anonymous)", path=MESSAGES_PATH)

    async def stop(self) -> None:
        self._sink = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        await self.connector.close()

    def mount(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_PATH, self.handle_http)

    # --- inbound --------------------------------------------------------------------------

    async def handle_http(self, request: web.Request) -> web.Response:
        """See `door`: refuse what is too big or not an activity; then authenticate."""
        body = await read_activity(request)
        if isinstance(body, DoorRefused):
            return _refuse(request, body.status, body.reason)
        try:
            activity = Activity().deserialize(body)
        except Exception:  # msrest raises its own DeserializationError for wrong field types
            return _refuse(request, 400, "the body is not an activity")
        try:
            result = await authenticate(
                self._authentication,
                self._auth,
                activity,
                request.headers.get("Authorization", ""),
            )
        except Refused as refused:  # `auth` logged its one WARNING line
            reason = "unauthorized" if refused.status == 401 else "unavailable"
            return _error(refused.status, reason)
        try:
            invoke = await self._cloud.process_activity(
                result, activity, partial(self._on_turn, body)
            )
        except Exception:
            log.exception("teams.turn_failed", activity_type=body.get("type"))
            return _error(500, "the bot failed to handle this activity")
        # botbuilder.core re-exports the schema's InvokeResponse, not the class CloudAdapter
        # returns: import it from botbuilder.core.invoke_response.
        if isinstance(invoke, InvokeResponse):
            return web.json_response(invoke.body, status=invoke.status)
        return web.Response(status=201)

    async def _on_turn(self, body: Mapping[str, Any], context: TurnContext) -> None:
        if is_bot_installed(body):
            await context.send_activity(MessageFactory.text(self._welcome))
            return
        try:
            event = normalize(body)
        except Exception:  # a malformed activity must not break the answer to Teams
            log.exception("teams.normalize_failed", activity_type=body.get("type"))
            return
        if event is None:
            return
        if isinstance(event, ActionClick):
            await self._on_click(event, context, invoke=body.get("type") == "invoke")
            return
        self._spawn(self._deliver(event))

    async def _on_click(self, event: ActionClick, context: TurnContext, *, invoke: bool) -> None:
        work = asyncio.ensure_future(self._deliver(event))
        if not invoke:  # Action.Submit: nothing to answer synchronously
            self._spawn(self._apply_later(event, work))
            return
        try:
            result = await asyncio.wait_for(asyncio.shield(work), INVOKE_BUDGET_S)
        except TimeoutError:
            self._spawn(self._apply_later(event, work))
            result = ActionResult(private=OutgoingMessage.text("Working on it…"))
        if result is not None and result.update is not None and result.private is not None:
            # The response shows the card; the note goes out as its own message.
            self._spawn(self._show(event, ActionResult(private=result.private)))
        response = InvokeResponse(status=200, body=invoke_body(result))
        await context.send_activity(Activity(type=ActivityTypes.invoke_response, value=response))

    async def _apply_later(
        self, event: ActionClick, work: asyncio.Future[ActionResult | None]
    ) -> None:
        result = await work
        if result is not None:
            await self._show(event, result)

    async def _show(self, event: ActionClick, result: ActionResult) -> None:
        """Show a click's result without a synchronous response: edit the card, post the note."""
        try:
            if result.update is not None and event.origin.message_id:
                await self.connector.update(
                    event.ref.route,
                    conversation_id(event.ref),
                    event.origin.message_id,
                    {"type": "message", "attachments": [card_attachment(result.update)]},
                )
            if result.private is not None:
                await self.send_private(
                    event.ref, event.author.id, result.private, origin=event.origin
                )
        except ParleyError:
            log.exception("teams.click_result_failed", event_id=event.event_id)

    async def _deliver(self, event: Event) -> ActionResult | None:
        sink = self._sink
        if sink is None:
            log.warning("teams.event_before_start", event_id=event.event_id)
            return None
        try:
            return await sink(event)
        except Exception:
            log.exception("teams.sink_failed", event_id=event.event_id)
            return None

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- outbound -------------------------------------------------------------------------

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        body = render(message).to_json()
        message_id = await self.connector.send(_route(ref), conversation_id(ref), body)
        return MessageHandle(ref=ref, message_id=message_id)

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        body = render(message).to_json()
        await self.connector.update(
            _route(handle.ref), conversation_id(handle.ref), handle.message_id, body
        )

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        """Teams has no ephemeral messages: in a personal chat the note is posted there, else in
        the bot's 1:1 chat with the person (opened with their channel account id, carried in
        the origin's token)."""
        if ref.kind is ConversationKind.DIRECT:
            await self.send(ref, message)
            return
        account = origin.token or user_id
        chat = await self.connector.open_personal_chat(_route(ref), account, ref.workspace_id)
        direct = ConversationRef(
            platform=ref.platform,
            workspace_id=ref.workspace_id,
            channel_id=chat,
            kind=ConversationKind.DIRECT,
            route=ref.route,
        )
        await self.send(direct, message)

    async def typing(self, ref: ConversationRef) -> None:
        await self.connector.send(_route(ref), conversation_id(ref), {"type": "typing"})

    async def open_native_stream(
        self, ref: ConversationRef, origin: Origin | None
    ) -> TeamsNativeStream | None:
        if ref.kind is not ConversationKind.DIRECT:
            return None
        _route(ref)
        return TeamsNativeStream(self.connector, ref, now=self._now, cap_s=self._stream_cap_s)


def invoke_body(result: ActionResult | None) -> dict[str, Any]:
    """The `adaptiveCard/action` response: the refreshed card, else a message for the clicker."""
    if result is not None and result.update is not None:
        card = card_attachment(result.update)
        return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card["content"]}
    note = result.private.text_markdown if result is not None and result.private else "Done."
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": note}


def _route(ref: ConversationRef) -> str:
    if not ref.route:
        raise PlatformError(
            f"no serviceUrl stored for Teams conversation {ref.channel_id}",
            method="send",
            code="no_route",
        )
    return ref.route


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _refuse(request: web.Request, status: int, reason: str) -> web.Response:
    """One WARNING line (never the body), and the refusal."""
    log.warning(
        "teams.request_refused",
        status=status,
        reason=reason,
        remote=request.remote,
        length=request.content_length,
    )
    return _error(status, reason)
