"""Interactions in the Discord fake: app commands and button clicks, their one callback, and
the follow-up webhooks their token opens.

- `slash()` / `click()` dispatch INTERACTION_CREATE (types 2 and 3) with a fresh id and token;
- POST /interactions/{id}/{token}/callback: once per interaction (a second → 400 40060), within
  `callback_deadline_s` (later → 404 10062); types 4 (message), 5 (deferred message, "thinking…"),
  6 (deferred update) and 7 (update the clicked message), validated like any message;
- POST /webhooks/{app}/{token}: a follow-up, only after the callback (else 404 10015) and while
  the token lives (`token_ttl_s` → 401 50027); the first one after a type-5 callback fills the
  deferred message (@original) instead of creating one;
- PATCH /webhooks/{app}/{token}/messages/{id|@original}: edits the interaction's own messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes import discord_payloads as p
from tests.fakes.discord_wire import (
    CHANNEL_ID,
    USER_ID,
    DiscordError,
    FakeMessage,
    check_body,
    json_response,
)

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord


@dataclass
class FakeInteraction:
    id: str
    token: str
    kind: int
    channel_id: str
    guild_id: str | None
    user_id: str
    created: float
    message_id: str = ""
    """The clicked message (components)."""
    callback_type: int = 0
    original_id: str = ""
    original_pending: bool = False
    original_flags: int = 0
    followups: list[str] = field(default_factory=list)


class FakeInteractions:
    def __init__(self, api: FakeDiscord) -> None:
        self.api = api
        self.interactions: dict[str, FakeInteraction] = {}

    async def slash(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        channel_id: str = CHANNEL_ID,
        user_id: str = USER_ID,
    ) -> FakeInteraction:
        """A person runs an application command: INTERACTION_CREATE (type 2)."""
        data = {"id": p.snowflake(), "name": name, "type": 1, "options": options or []}
        return await self._interact(p.INTERACTION_APPLICATION_COMMAND, data, channel_id, user_id)

    async def click(
        self, message_id: str, custom_id: str, *, user_id: str = USER_ID
    ) -> FakeInteraction:
        """A person clicks a button on a message: INTERACTION_CREATE (type 3)."""
        message = self.api.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(
            p.INTERACTION_MESSAGE_COMPONENT, data, message.channel_id, user_id, message
        )

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        channel_id: str,
        user_id: str,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        channel = self.api.channels[channel_id]
        guild_id = channel.get("guild_id")
        interaction = FakeInteraction(
            id=p.snowflake(),
            token=f"itoken-{p.snowflake()}",
            kind=kind,
            channel_id=channel_id,
            guild_id=guild_id,
            user_id=user_id,
            created=time.monotonic(),
            message_id=message.id if message else "",
        )
        self.interactions[interaction.id] = interaction
        payload = p.interaction(
            interaction_id=interaction.id,
            token=interaction.token,
            application_id=self.api.application_id,
            kind=kind,
            data=data,
            channel=channel,
            user_data=self.api.users[user_id],
            guild_id=guild_id,
            message_data=self.api._message_payload(message) if message else None,
        )
        await self.api.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return interaction

    def _interaction(self, token: str) -> FakeInteraction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise DiscordError(401, 50027, "Invalid Webhook Token")

    async def callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(request.match_info["interaction_id"])
        if interaction is None or interaction.token != request.match_info["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.callback_type:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.created > self.api.callback_deadline_s:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = await request.json()
        kind, data = int(body.get("type", 0)), body.get("data") or {}
        flags = int(data.get("flags") or 0)
        if kind == 4:
            check_body(data)
            interaction.original_id = self.api._store(
                interaction.channel_id, data, flags=flags, interaction_id=interaction.id
            ).id
        elif kind == 5:
            message = self.api._store(
                interaction.channel_id, {"content": ""}, flags=flags, interaction_id=interaction.id
            )
            interaction.original_id, interaction.original_pending, interaction.original_flags = (
                message.id,
                True,
                flags,
            )
        elif kind in (6, 7) and interaction.kind == p.INTERACTION_MESSAGE_COMPONENT:
            if kind == 7:
                check_body(data, partial=True)
                self.api._apply(self.api.messages[interaction.message_id], data)
            interaction.original_id = interaction.message_id
        else:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"type": {"_errors": [{"code": "BAD_TYPE", "message": f"callback type {kind}"}]}},
            )
        interaction.callback_type = kind
        return web.Response(status=204)

    def _live(self, request: web.Request) -> FakeInteraction:
        if request.match_info["app"] != self.api.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        interaction = self._interaction(request.match_info["token"])
        if time.monotonic() - interaction.created > self.api.token_ttl_s:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if not interaction.callback_type:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return interaction

    async def followup(self, request: web.Request) -> web.Response:
        interaction = self._live(request)
        body = await request.json()
        check_body(body)
        if interaction.original_pending:
            message = self.api.messages[interaction.original_id]
            interaction.original_pending = False
            message.edits.clear()
            self.api._apply(message, body)
        else:
            message = self.api._store(interaction.channel_id, body, interaction_id=interaction.id)
            interaction.followups.append(message.id)
        return json_response(self.api._message_payload(message))

    async def edit_followup(self, request: web.Request) -> web.Response:
        interaction = self._live(request)
        message_id = request.match_info["message_id"]
        if message_id == "@original":
            message_id = interaction.original_id
        if message_id not in ({interaction.original_id} | set(interaction.followups)):
            raise DiscordError(404, 10008, "Unknown Message")
        body = await request.json()
        check_body(body, partial=True)
        message = self.api.messages[message_id]
        if interaction.original_pending and message_id == interaction.original_id:
            interaction.original_pending = False
            message.edits.clear()
        self.api._apply(message, body)
        return json_response(self.api._message_payload(message))
