"""The Discord transport: discord.py's gateway client around the pure `normalize` / `render`.

How it works:
- Start: discord.py keeps its REST base in `discord.http.Route.BASE` and its gateway in
  `DiscordWebSocket.DEFAULT_GATEWAY`, class attributes (one Discord per process): both are set
  from DISCORD_API_URL and DISCORD_GATEWAY_URL (else GET /gateway/bot on that base). The client
  logs in, the app commands (`manifest.COMMANDS`) are registered (PUT per guild in
  DISCORD_GUILD_IDS, else globally), then the gateway connects with the intents guilds, guild
  messages, DMs and message content; `start` returns at READY. DISCORD_SHARDS runs
  `AutoShardedClient` (0: the shard count Discord recommends).
- Inbound: the client runs with debug events, so every gateway payload reaches
  `on_socket_raw_receive` as Discord sent it; MESSAGE_CREATE and INTERACTION_CREATE go through
  `normalize` (the channel's kind, thread or not, comes from discord.py's channel cache, or one
  GET /channels/{id} when it is not there). A RESUME replays payloads: the core's dedupe by
  message/interaction id keeps them from being answered twice.
- Interactions are acknowledged here, within Discord's 3 s: a command is deferred at once
  (ephemeral for `manifest.PRIVATE_COMMANDS`, every command but /ask) and handed to the sink;
  the core's first write through its origin (the interaction token, 15 min) replaces
  "thinking…". A button click is handed to the sink first and its `ActionResult` goes into the
  callback itself (UPDATE_MESSAGE for the card, an ephemeral reply for a private note); if the
  sink takes longer than `click_answer_s`, the click is deferred and the result applied
  through the token.
- Outbound: `send`, `edit`, `send_private` and `typing` are `writes` (render, one call through
  `rest.DiscordRest`, a token's webhook kept in the handle's `route`); `open_thread`,
  `bot_in_thread` and `read_thread` are `threads`; `is_platform_admin` is `roles`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine, Sequence
from typing import Any

import discord
import yarl
from discord.gateway import DiscordWebSocket

from adapters.discord import threads, writes
from adapters.discord.manifest import COMMANDS, PRIVATE_COMMANDS
from adapters.discord.normalize import BotIdentity, Place, normalize, place_of
from adapters.discord.render import MAX_CONTENT, DiscordMessage, render
from adapters.discord.rest import DiscordRest
from adapters.discord.roles import DiscordRoles
from bot.adapter import EventSink, RateListener, ThreadMessage
from bot.capabilities import ALL_OPS, Capabilities, Op, Placement, RateLimit, RateScope
from bot.errors import ConfigError, PlatformError
from bot.events import ActionClick, Command, Event, Origin
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.payload import obj, text
from bot.refs import ConversationKind, ConversationRef, MessageHandle

log = get_logger("adapters.discord")

DEFAULT_API_URL = "https://discord.com/api/v10"
_DEFERRED_MESSAGE, _DEFERRED_UPDATE, _MESSAGE, _UPDATE = 5, 6, 4, 7
_EPHEMERAL = 1 << 6
_DISPATCHES = ('"MESSAGE_CREATE"', '"INTERACTION_CREATE"')


def discord_capabilities(*, reply_in_thread: bool = False) -> Capabilities:
    """2,000 chars per message; about 5 creates+edits per 5 s per channel (the bucket Discord
    announces in X-RateLimit headers); the global 50 requests per second; typing lasts ~10 s."""
    return Capabilities(
        max_post_chars=MAX_CONTENT,
        max_edit_chars=MAX_CONTENT,
        min_edit_interval_s=1.0,
        rate_limits=(
            RateLimit(
                ops=frozenset({Op.POST, Op.EDIT}),
                # A Discord thread is a channel with its own bucket: the THREAD scope keys a
                # budget per thread, and one for the channel's top level.
                scope=RateScope.THREAD,
                calls=5,
                window_s=5.0,
                name="channel messages",
            ),
            RateLimit(ops=ALL_OPS, scope=RateScope.GLOBAL, calls=50, window_s=1.0, name="global"),
        ),
        typing_interval_s=9.0,
        buttons=True,
        ephemeral=True,
        action_response=True,
        channel_reply=Placement.THREAD if reply_in_thread else Placement.REPLY,
    )


def intents() -> discord.Intents:
    chosen = discord.Intents.none()
    chosen.guilds = True
    chosen.guild_messages = True
    chosen.dm_messages = True
    chosen.message_content = True  # privileged: enabled in the Developer Portal
    return chosen


class DiscordAdapter:
    """Adapter + Typing + ThreadOpener + ThreadProbe + ThreadReader + RateAnnouncer +
    RoleDirectory."""

    name = "discord"

    def __init__(
        self,
        *,
        token: str,
        api_url: str = DEFAULT_API_URL,
        gateway_url: str = "",
        guild_ids: Sequence[str] = (),
        shards: int | None = None,
        reply_in_thread: bool = False,
        click_answer_s: float = 2.0,
        ready_timeout_s: float = 60.0,
        guild_ready_timeout_s: float = 2.0,
        capabilities: Capabilities | None = None,
    ) -> None:
        if not token:
            raise ConfigError(
                "DISCORD_BOT_TOKEN is empty: copy the token from the Developer Portal (Bot → Reset Token)."
            )
        self.capabilities = capabilities or discord_capabilities(reply_in_thread=reply_in_thread)
        self._token = token
        self._api_url = api_url.rstrip("/")
        self._gateway_url = gateway_url
        self._guild_ids = tuple(guild_ids)
        self._shards = shards
        self._click_answer_s = click_answer_s
        self._ready_timeout_s = ready_timeout_s
        self._guild_ready_timeout_s = guild_ready_timeout_s
        self.rest = DiscordRest(api_url=self._api_url, token=token)
        self.client: discord.Client | None = None
        self._roles = DiscordRoles(lambda: self.client)
        self.bot = BotIdentity(user_id="")
        self._sink: EventSink | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    def set_rate_listener(self, listener: RateListener) -> None:
        self.rest.listener = listener

    async def start(self, sink: EventSink) -> None:
        await self.rest.open()
        discord.http.Route.BASE = self._api_url
        shard_count = self._shards
        try:
            gateway_url = self._gateway_url
            if not gateway_url or shard_count == 0:
                info = await self.rest.call("GET", "/gateway/bot")
                gateway_url = gateway_url or str(info["url"])
                shard_count = int(info.get("shards") or 1) if shard_count == 0 else shard_count
        except PlatformError as exc:
            await self.rest.close()
            raise _start_error(exc) from None
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
        client = self.client = self._client(shard_count)
        self._sink = sink
        try:
            await client.login(self._token)
            assert client.user is not None
            self.bot = BotIdentity(
                user_id=str(client.user.id),
                application_id=str(client.application_id or client.user.id),
            )
            await self._register_commands()
            await self._connect(client)
        except BaseException as exc:
            await self.stop()
            if isinstance(exc, discord.LoginFailure):
                raise ConfigError(
                    "DISCORD_BOT_TOKEN was refused by Discord: reset it in the Developer Portal (Bot → Reset Token)."
                ) from None
            if isinstance(exc, discord.PrivilegedIntentsRequired):
                raise ConfigError(
                    "Discord refused the Message Content intent: enable it in the Developer Portal (Bot → Privileged Gateway Intents → Message Content)."
                ) from None
            raise
        log.info(
            "discord.started",
            bot_user_id=self.bot.user_id,
            guilds=len(client.guilds),
            shards=shard_count or 1,
            commands="per guild" if self._guild_ids else "global",
        )

    def _client(self, shard_count: int | None) -> discord.Client:
        options: dict[str, Any] = {
            "intents": intents(),
            "enable_debug_events": True,  # raw payloads for normalize
            "max_messages": None,  # Parley keeps no message cache
            "chunk_guilds_at_startup": False,
            # READY waits this long for more GUILD_CREATEs after the last one (discord.py's 2 s).
            "guild_ready_timeout": self._guild_ready_timeout_s,
            "max_ratelimit_timeout": 30.0,  # discord.py's own start-up calls never wait longer
        }
        client: discord.Client = (
            discord.AutoShardedClient(shard_count=shard_count, **options)
            if shard_count
            else discord.Client(**options)
        )

        async def on_socket_raw_receive(raw: str) -> None:
            self._on_raw(raw)

        client.event(on_socket_raw_receive)
        return client

    async def _connect(self, client: discord.Client) -> None:
        self._runner = asyncio.create_task(client.connect(reconnect=True))
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._runner, ready},
            timeout=self._ready_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if ready not in done:
            ready.cancel()
            if self._runner in done:
                self._runner.result()  # raises why the gateway closed
            raise PlatformError(
                "Discord gateway: no READY in time", method="gateway", code="timeout"
            )

    async def _register_commands(self) -> None:
        app, body = self.bot.application_id, list(COMMANDS)
        paths = [f"/applications/{app}/guilds/{g}/commands" for g in self._guild_ids] or [
            f"/applications/{app}/commands"
        ]
        for path in paths:
            try:
                await self.rest.call("PUT", path, body=body)
            except PlatformError as exc:
                if exc.code in ("50001", "403"):
                    raise ConfigError(
                        f"Discord refused to register commands at {path}: the bot is not in that "
                        "guild, or it was invited without the applications.commands scope. Fix "
                        "DISCORD_GUILD_IDS or re-invite with `python -m bot discord invite-url`."
                    ) from None
                raise

    async def stop(self) -> None:
        self._sink = None
        if self.client is not None:
            await self.client.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._runner, timeout=5.0)
            self._runner = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=5.0)
            for task in pending:
                task.cancel()
        await self.rest.close()

    # --- inbound --------------------------------------------------------------------------

    def _on_raw(self, raw: str) -> None:
        if not any(name in raw for name in _DISPATCHES):
            return
        try:
            payload = json.loads(raw)
        except ValueError:
            return
        if not isinstance(payload, dict) or payload.get("op") != 0:
            return
        kind, data = payload.get("t"), payload.get("d")
        if not isinstance(data, dict):
            return
        if kind == "MESSAGE_CREATE":
            self._spawn(self._on_message(data))
        elif kind == "INTERACTION_CREATE":
            self._spawn(self._on_interaction(data))

    async def _on_message(self, data: dict[str, Any]) -> None:
        place = await self._place(data)
        event = self._normalize("MESSAGE_CREATE", data, place)
        if event is not None:
            await self._deliver(event)

    async def _place(self, data: dict[str, Any]) -> Place | None:
        channel_id = str(data.get("channel_id", ""))
        channel = (
            self.client.get_channel(int(channel_id))
            if self.client and channel_id.isdigit()
            else None
        )
        if isinstance(channel, discord.Thread):
            return Place(
                channel_id=str(channel.parent_id),
                thread_id=channel_id,
                kind=ConversationKind.THREAD,
            )
        if isinstance(channel, discord.DMChannel) or not data.get("guild_id"):
            return Place(channel_id=channel_id, kind=ConversationKind.DIRECT)
        if channel is not None:
            return Place(channel_id=channel_id)
        try:
            return place_of(
                await self.rest.call("GET", f"/channels/{channel_id}", permission="View Channel")
            )
        except PlatformError:
            return None  # normalize treats it as a channel

    async def _on_interaction(self, data: dict[str, Any]) -> None:
        event = self._normalize("INTERACTION_CREATE", data, None)
        if isinstance(event, Command):
            name = text(obj(data.get("data")).get("name"))
            flags = _EPHEMERAL if name in PRIVATE_COMMANDS else 0
            if await self._callback(data, {"type": _DEFERRED_MESSAGE, "data": {"flags": flags}}):
                await self._deliver(event)
        elif isinstance(event, ActionClick):
            await self._on_click(data, event)

    async def _on_click(self, data: dict[str, Any], click: ActionClick) -> None:
        sink = self._sink
        if sink is None:
            return
        answer = asyncio.ensure_future(sink(click))
        done, _ = await asyncio.wait({answer}, timeout=self._click_answer_s)
        if not done:
            await self._callback(data, {"type": _DEFERRED_UPDATE})
        try:
            result = await answer
        except Exception:
            log.exception("discord.sink_failed", event_id=click.event_id)
            result = None
        update, private = (result.update, result.private) if result else (None, None)
        token = click.origin.token
        if done:
            if update is not None:
                body = {"type": _UPDATE, "data": render(update).to_json()}
            elif private is not None:
                body = {"type": _MESSAGE, "data": render(private, ephemeral=True).to_json()}
                private = None
            else:
                body = {"type": _DEFERRED_UPDATE}
            if not await self._callback(data, body):
                return
        elif update is not None:
            await self._quietly(
                self._webhook("PATCH", token, "/messages/@original", render(update), click.ref)
            )
        if private is not None:
            await self._quietly(
                self._webhook("POST", token, "", render(private, ephemeral=True), click.ref)
            )

    def _webhook(
        self, method: str, token: str, suffix: str, payload: DiscordMessage, ref: ConversationRef
    ) -> Coroutine[Any, Any, Any]:
        return writes.webhook(
            self.rest, self.bot.application_id, method, token, suffix, payload, ref
        )

    async def _callback(self, data: dict[str, Any], body: dict[str, Any]) -> bool:
        """The interaction's one callback; False (logged) when Discord refused it."""
        path = f"/interactions/{data.get('id')}/{data.get('token')}/callback"
        try:
            await self.rest.call("POST", path, body=body, auth=False)
        except PlatformError as exc:
            log.warning(
                "discord.interaction_refused",
                interaction=data.get("id"),
                code=exc.code,
                error=str(exc),
            )
            return False
        return True

    def _normalize(self, kind: str, data: dict[str, Any], place: Place | None) -> Event | None:
        try:
            return normalize(kind, data, self.bot, place)
        except Exception:  # a malformed payload must not take the gateway listener down
            log.exception("discord.normalize_failed", kind=kind)
            return None

    async def _deliver(self, event: Event) -> None:
        sink = self._sink
        if sink is None:
            log.warning("discord.event_before_start", event_id=event.event_id)
            return
        try:
            await sink(event)
        except Exception:
            log.exception("discord.sink_failed", event_id=event.event_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _quietly(work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except PlatformError as exc:
            log.warning("discord.click_result_failed", code=exc.code, error=str(exc))

    # --- outbound -------------------------------------------------------------------------

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        return await writes.send(self.rest, self.bot.application_id, ref, message, origin=origin)

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        await writes.edit(self.rest, self.bot.application_id, handle, message)

    async def send_private(
        self, ref: ConversationRef, user_id: str, message: OutgoingMessage, *, origin: Origin
    ) -> None:
        """Ephemeral through the interaction token; Discord has no ephemeral messages outside
        interactions, so without a live token the note goes to the person's DMs."""
        await writes.send_private(
            self.rest, self.bot.application_id, ref, user_id, message, origin=origin
        )

    async def typing(self, ref: ConversationRef) -> None:
        await writes.typing(self.rest, ref)

    async def open_thread(
        self, ref: ConversationRef, message_id: str, title: str
    ) -> ConversationRef:
        return await threads.open_thread(self.rest, ref, message_id, title)

    async def bot_in_thread(self, ref: ConversationRef) -> bool:
        return await threads.bot_in_thread(self.rest, self.bot, ref)

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool:
        """RoleDirectory: the owner, Manage Server, Administrator (`adapters.discord.roles`)."""
        return await self._roles.is_platform_admin(ref, user_id)

    async def read_thread(
        self, ref: ConversationRef, *, before: str, limit: int
    ) -> list[ThreadMessage]:
        return await threads.read_thread(self.rest, self.bot, ref, before=before, limit=limit)


def _start_error(exc: PlatformError) -> Exception:
    if exc.code in ("0", "401"):
        return ConfigError(
            "DISCORD_BOT_TOKEN was refused by Discord: reset it in the Developer Portal (Bot → Reset Token)."
        )
    return exc


__all__ = ["DiscordAdapter", "discord_capabilities"]
