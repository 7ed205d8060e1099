"""A loopback fake of Discord: the REST API (v10) and the gateway, on one 127.0.0.1 port.

    async with FakeDiscord() as fake:
        # DISCORD_API_URL=fake.api_url; the gateway URL comes from GET /gateway/bot
        message_id = await fake.user_says(fake.channel_id, "hi", mention_bot=True)

It records every REST call (`fake.calls`) and every message (`fake.messages`, with each text it
showed in `edits`), and it enforces what Discord enforces, so a client that gets it wrong sees
what it would see in production:
- content over 2,000 chars (or an embed description over 4,096) → 400 with code 50035;
  an empty message → 400 50006;
- per-channel buckets: message creates and edits share `message_limit` per `message_window_s`
  per channel (Discord: about 5 per 5 s), follow-ups share one per interaction token; each
  answer carries X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket, and one call over
  the bucket gets 429 with Retry-After and `retry_after` in the body (`fake.rate_limited`);
- the global limit: `global_limit` calls per `global_window_s` (1 s) across the bot (interaction endpoints are
  exempt, as documented) → 429 with `global: true` and X-RateLimit-Global;
- interactions: one callback per interaction (a second → 400 40060), within
  `callback_deadline_s` of its creation (later → 404 10062); follow-ups only after the
  callback and while the token lives (`token_ttl_s`, Discord 15 min → 401 50027); the first
  follow-up after a deferred callback fills the "thinking…" message (@original);
- 403 50013 Missing Permissions in channels named by `deny(channel_id)`; editing someone
  else's message → 403 50005; unknown channel/message → 404 10003/10008;
- application commands: PUT global or per-guild lists, validated (names, descriptions, option
  types, choices, channel types, required options first), recorded in `fake.commands`;
- threads: POST /channels/{c}/messages/{m}/threads creates a thread whose id is the message's,
  and the gateway sends THREAD_CREATE;
- guilds and members: GET /guilds/{g} (with its roles) and GET /guilds/{g}/members/{u} for the
  members added with `add_member` (roles from `add_role`; the guild's `owner_id`), 404 10004
  Unknown Guild / 10007 Unknown Member otherwise.

Every authenticated route needs `Authorization: Bot <token>` (else 401). The pieces live in
`discord_wire` (ids, validation, rate limits), `discord_interactions` (callbacks, follow-ups),
`discord_gateway` (the websocket) and `discord_payloads` (object shapes).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes import discord_payloads as p
from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_interactions import FakeInteraction, FakeInteractions
from tests.fakes.discord_wire import (
    APPLICATION_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_BOT_ID,
    OTHER_USER_ID,
    TOKEN,
    USER_ID,
    Call,
    DiscordError,
    FakeMessage,
    RateLimits,
    check_body,
    check_command,
    json_response,
)

__all__ = [
    "BOT_USER_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "OTHER_BOT_ID",
    "OTHER_USER_ID",
    "USER_ID",
    "FakeDiscord",
    "FakeMessage",
]
"""The fake, and the ids and message type of its world (defined in `discord_wire`)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = TOKEN,
        message_limit: int = 5,
        message_window_s: float = 5.0,
        global_limit: int = 50,
        global_window_s: float = 1.0,
        callback_deadline_s: float = 3.0,
        token_ttl_s: float = 900.0,
        shard_count: int = 1,
        latency_s: float = 0.0,
    ) -> None:
        self.token = token
        self.message_limit = message_limit
        self.message_window_s = message_window_s
        self.global_limit = global_limit
        self.global_window_s = global_window_s
        self.callback_deadline_s = callback_deadline_s
        self.token_ttl_s = token_ttl_s
        self.shard_count = shard_count
        self.latency_s = latency_s
        self.application_id = APPLICATION_ID
        self.bot_user = p.user(BOT_USER_ID, "parley", bot=True)
        self.users = {
            USER_ID: p.user(USER_ID, "ada"),
            OTHER_USER_ID: p.user(OTHER_USER_ID, "grace"),
            OTHER_BOT_ID: p.user(OTHER_BOT_ID, "otherbot", bot=True),
            BOT_USER_ID: self.bot_user,
        }
        self.guild_id, self.channel_id = GUILD_ID, CHANNEL_ID
        self.guilds: dict[str, dict[str, Any]] = {
            GUILD_ID: {"id": GUILD_ID, "name": "Fake guild", "owner_id": "1"}
        }
        self.roles: dict[str, list[dict[str, Any]]] = {GUILD_ID: []}
        """Each guild's roles besides @everyone (`add_role`)."""
        self.members: dict[tuple[str, str], list[str]] = {}
        """(guild id, user id) → role ids (`add_member`)."""
        self.channels: dict[str, dict[str, Any]] = {
            CHANNEL_ID: p.text_channel(CHANNEL_ID, GUILD_ID, "general")
        }
        self.messages: dict[str, FakeMessage] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        """"global" or a guild id → the registered command list."""
        self.calls: list[Call] = []
        self.typing: list[str] = []
        self.denied: set[str] = set()
        self.rate_limited = 0
        self.global_rate_limited = 0
        self.limits = RateLimits(self)
        self.interaction_api = FakeInteractions(self)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.gateway = FakeGateway(self)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self.gateway.handle)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("GET", "/gateway/bot", self._gateway_bot),
            ("GET", "/gateway/info", self._gateway_info),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("GET", "/channels/{channel_id}/messages", self._list_messages),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._create_thread),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            (
                "POST",
                "/interactions/{interaction_id}/{token}/callback",
                self.interaction_api.callback,
            ),
            ("POST", "/webhooks/{app}/{token}", self.interaction_api.followup),
            (
                "PATCH",
                "/webhooks/{app}/{token}/messages/{message_id}",
                self.interaction_api.edit_followup,
            ),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, "/api/v10" + path, self._wrap(method, path, handler))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        """What goes in DISCORD_API_URL (the REST base including the version)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/gateway"

    # --- test controls --------------------------------------------------------------------

    def deny(self, channel_id: str) -> None:
        """The bot lacks Send Messages in `channel_id`: writes there get 403 50013."""
        self.denied.add(channel_id)

    def add_role(self, name: str, permissions: int, *, guild_id: str = GUILD_ID) -> str:
        role_id = p.snowflake()
        self.roles[guild_id].append(p.role(role_id, name, permissions))
        return role_id

    def add_member(
        self, user_id: str, name: str = "", *, roles: tuple[str, ...] = (), guild_id: str = GUILD_ID
    ) -> None:
        self.users.setdefault(user_id, p.user(user_id, name or f"user{user_id[-4:]}"))
        self.members[(guild_id, user_id)] = list(roles)

    def add_thread(self, parent_id: str, name: str, *, owner_id: str = USER_ID) -> str:
        thread_id = p.snowflake()
        self.channels[thread_id] = p.thread_channel(
            thread_id, self.guild_id, parent_id, name, owner_id
        )
        return thread_id

    def guild_payload(self, guild_id: str) -> dict[str, Any]:
        channels = [c for c in self.channels.values() if c.get("guild_id") == guild_id]
        return p.guild(
            guild_id,
            self.guilds[guild_id]["name"],
            owner_id=self.guilds[guild_id]["owner_id"],
            roles=self.roles.get(guild_id, []),
            channels=[c for c in channels if c["type"] == p.TEXT_CHANNEL],
            threads=[c for c in channels if c["type"] in (p.PUBLIC_THREAD, p.PRIVATE_THREAD)],
        )

    async def user_says(
        self,
        channel_id: str,
        text: str,
        *,
        author: str = USER_ID,
        mention_bot: bool = False,
        reply_to: str = "",
        message_id: str = "",
    ) -> str:
        """A person (or bot) writes in a channel, thread or DM: stored, then MESSAGE_CREATE."""
        content = f"<@{BOT_USER_ID}> {text}" if mention_bot else text
        message_id = message_id or p.snowflake()
        channel = self.channels[channel_id]
        guild_id = channel.get("guild_id")
        referenced = self.messages.get(reply_to)
        self.messages[message_id] = FakeMessage(
            id=message_id,
            channel_id=channel_id,
            author_id=author,
            content=content,
            reference=reply_to,
            edits=[content],
        )
        payload = p.message(
            message_id=message_id,
            channel_id=channel_id,
            author=self.users[author],
            content=content,
            guild_id=guild_id,
            mentions=[self.bot_user] if mention_bot else [],
            reference={
                "message_id": reply_to,
                "channel_id": channel_id,
                "guild_id": guild_id,
                "type": 0,
            }
            if reply_to
            else None,
            referenced=self._message_payload(referenced) if referenced else None,
        )
        await self.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=guild_id)
        return message_id

    async def resend(self, message_id: str) -> None:
        """Deliver an existing message's MESSAGE_CREATE again (a duplicate delivery)."""
        message = self.messages[message_id]
        guild_id = self.channels[message.channel_id].get("guild_id")
        payload = self._message_payload(message)
        if guild_id:
            payload = {**payload, "guild_id": guild_id, "member": p.member()}
        await self.gateway.dispatch("MESSAGE_CREATE", payload, guild_id=guild_id)

    def open_dm_channel(self, user_id: str = USER_ID) -> str:
        for channel in self.channels.values():
            if channel["type"] == p.DM_CHANNEL and channel["recipients"][0]["id"] == user_id:
                return str(channel["id"])
        channel_id = p.snowflake()
        self.channels[channel_id] = p.dm_channel(channel_id, self.users[user_id])
        return channel_id

    @property
    def interactions(self) -> dict[str, FakeInteraction]:
        return self.interaction_api.interactions

    async def slash(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        channel_id: str = CHANNEL_ID,
        user_id: str = USER_ID,
    ) -> FakeInteraction:
        """A person runs an application command: INTERACTION_CREATE (type 2)."""
        return await self.interaction_api.slash(
            name, options, channel_id=channel_id, user_id=user_id
        )

    async def click(
        self, message_id: str, custom_id: str, *, user_id: str = USER_ID
    ) -> FakeInteraction:
        """A person clicks a button on a message: INTERACTION_CREATE (type 3)."""
        return await self.interaction_api.click(message_id, custom_id, user_id=user_id)

    # --- inspection -----------------------------------------------------------------------

    def calls_to(self, route: str, *, ok: bool | None = None) -> list[Call]:
        return [
            c for c in self.calls if c.route == route and (ok is None or (c.status < 300) == ok)
        ]

    def bot_messages(self, channel_id: str | None = None) -> list[FakeMessage]:
        return [
            m
            for m in self.messages.values()
            if m.author_id == BOT_USER_ID and (channel_id is None or m.channel_id == channel_id)
        ]

    # --- plumbing -------------------------------------------------------------------------

    def _wrap(self, method: str, path: str, handler: Handler) -> Handler:
        route = f"{method} {path}"
        interaction_route = path.startswith(("/interactions", "/webhooks"))

        async def wrapped(request: web.Request) -> web.StreamResponse:
            body = await request.json() if request.can_read_body else None
            call = Call(
                method=method, path=request.path, route=route, body=body, at=time.monotonic()
            )
            self.calls.append(call)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            try:
                if (
                    not interaction_route
                    and request.headers.get("Authorization") != f"Bot {self.token}"
                ):
                    raise DiscordError(401, 0, "401: Unauthorized")
                if not interaction_route and (limited := self.limits.take_global()) is not None:
                    call.status = 429
                    return limited
                bucket = self.limits.bucket_for(request, path)
                if bucket is not None and (limited := self.limits.take(bucket)) is not None:
                    call.status = 429
                    return limited
                response = await handler(request)
            except DiscordError as exc:
                call.status, call.code = exc.status, exc.code
                body_out: dict[str, Any] = {"message": exc.message, "code": exc.code}
                if exc.errors:
                    body_out["errors"] = exc.errors
                return json_response(body_out, status=exc.status)
            call.status = response.status
            if isinstance(response, web.Response) and response.content_type == "application/json":
                written = json.loads(response.body) if isinstance(response.body, bytes) else {}
                if isinstance(written, dict) and "content" in written:
                    call.message_id = str(written.get("id", ""))
            if bucket is not None:
                response.headers.update(self.limits.headers(bucket))
            return response

        return wrapped

    def _message_payload(self, message: FakeMessage) -> dict[str, Any]:
        return p.message(
            message_id=message.id,
            channel_id=message.channel_id,
            author=self.users.get(message.author_id, self.bot_user),
            content=message.content,
            embeds=message.embeds,
            components=message.components,
            flags=message.flags,
        )

    # --- validation -----------------------------------------------------------------------

    def _channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def _writable(self, channel_id: str) -> dict[str, Any]:
        channel = self._channel(channel_id)
        parent = (
            channel.get("parent_id")
            if channel["type"] in (p.PUBLIC_THREAD, p.PRIVATE_THREAD)
            else None
        )
        if channel_id in self.denied or (parent and parent in self.denied):
            raise DiscordError(403, 50013, "Missing Permissions")
        return channel

    def _store(
        self, channel_id: str, body: dict[str, Any], *, flags: int = 0, interaction_id: str = ""
    ) -> FakeMessage:
        reference = str((body.get("message_reference") or {}).get("message_id") or "")
        if reference and (
            reference not in self.messages or self.messages[reference].channel_id != channel_id
        ):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "message_reference": {
                        "_errors": [
                            {
                                "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                "message": "Unknown message",
                            }
                        ]
                    }
                },
            )
        content = str(body.get("content") or "")
        message = FakeMessage(
            id=p.snowflake(),
            channel_id=channel_id,
            author_id=BOT_USER_ID,
            content=content,
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            reference=reference,
            flags=flags | int(body.get("flags") or 0),
            interaction_id=interaction_id,
            edits=[content],
        )
        self.messages[message.id] = message
        return message

    @staticmethod
    def _apply(message: FakeMessage, body: dict[str, Any]) -> None:
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        message.edits.append(message.content)

    # --- REST handlers --------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _application(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "id": self.application_id,
                "name": "Parley",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.users[USER_ID],
                "flags": 0,
                "bot": self.bot_user,
                "interactions_endpoint_url": None,
                "summary": "",
                "team": None,
            }
        )

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _gateway_info(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _put_commands(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        body = await request.json()
        if not isinstance(body, list) or len(body) > 100:
            raise DiscordError(400, 50035, "Invalid Form Body")
        for command in body:
            check_command(command)
        scope = request.match_info.get("guild", "global")
        if scope != "global" and scope not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        registered = [
            {
                **c,
                "id": p.snowflake(),
                "application_id": self.application_id,
                "version": p.snowflake(),
            }
            for c in body
        ]
        self.commands[scope] = registered
        return json_response(registered)

    async def _get_guild(self, request: web.Request) -> web.Response:
        guild_id = request.match_info["guild_id"]
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        payload = self.guild_payload(guild_id)
        return json_response({k: v for k, v in payload.items() if k not in ("channels", "threads")})

    async def _get_member(self, request: web.Request) -> web.Response:
        guild_id, user_id = request.match_info["guild_id"], request.match_info["user_id"]
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        roles = self.members.get((guild_id, user_id))
        if roles is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response({**p.member(self.users[user_id]), "roles": roles})

    async def _get_channel(self, request: web.Request) -> web.Response:
        return json_response(self._channel(request.match_info["channel_id"]))

    async def _list_messages(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        self._channel(channel_id)
        limit = min(100, int(request.query.get("limit", "50")))
        found = [
            m for m in self.messages.values() if m.channel_id == channel_id and not m.ephemeral
        ]
        found.sort(key=lambda m: int(m.id), reverse=True)
        return json_response([self._message_payload(m) for m in found[:limit]])

    async def _create_message(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        self._writable(channel_id)
        body = await request.json()
        check_body(body)
        return json_response(self._message_payload(self._store(channel_id, body)))

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel_id, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        self._writable(channel_id)
        message = self.messages.get(message_id)
        if message is None or message.channel_id != channel_id:
            raise DiscordError(404, 10008, "Unknown Message")
        if message.author_id != BOT_USER_ID:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body = await request.json()
        check_body(body, partial=True)
        self._apply(message, body)
        return json_response(self._message_payload(message))

    async def _typing(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["channel_id"]
        self._writable(channel_id)
        self.typing.append(channel_id)
        return web.Response(status=204)

    async def _create_thread(self, request: web.Request) -> web.Response:
        channel_id, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        channel = self._writable(channel_id)
        if message_id not in self.messages:
            raise DiscordError(404, 10008, "Unknown Message")
        if message_id in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        body = await request.json()
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "name": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_BAD_LENGTH",
                                "message": "Must be between 1 and 100 in length.",
                            }
                        ]
                    }
                },
            )
        thread = p.thread_channel(
            message_id, str(channel["guild_id"]), channel_id, name, BOT_USER_ID
        )
        self.channels[message_id] = thread
        await self.gateway.dispatch(
            "THREAD_CREATE", {**thread, "newly_created": True}, guild_id=channel["guild_id"]
        )
        return json_response(thread, status=201)

    async def _open_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        return json_response(self.channels[self.open_dm_channel(str(body["recipient_id"]))])
