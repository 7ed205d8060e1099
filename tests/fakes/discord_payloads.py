"""Discord object shapes as the API and gateway send them (v10), for the fake and for tests.

Each builder returns the JSON dict Discord documents for that object, with the fields
discord.py reads; tests/discord/payloads/ holds captured-shape examples built the same way.
Snowflakes are real ones (milliseconds since the Discord epoch << 22 | a counter), so anything
that reads a snowflake's time sees the present.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
_counter = itertools.count(1)

TEXT_CHANNEL = 0
DM_CHANNEL = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT = 20
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_MESSAGE_COMPONENT = 3


def snowflake() -> str:
    ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((ms << 22) | (next(_counter) & 0x3FFFFF))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "public_flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def member(user_data: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [],
        "joined_at": now_iso(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
    }
    if user_data is not None:
        data["user"] = user_data
    return data


def role(role_id: str, name: str, permissions: int, position: int = 1) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: str, guild_id: str, name: str) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": TEXT_CHANNEL,
        "guild_id": guild_id,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }


def thread_channel(
    thread_id: str, guild_id: str, parent_id: str, name: str, owner_id: str
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "type": PUBLIC_THREAD,
        "guild_id": guild_id,
        "parent_id": parent_id,
        "owner_id": owner_id,
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": now_iso(),
            "locked": False,
            "create_timestamp": now_iso(),
        },
    }


def dm_channel(channel_id: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": DM_CHANNEL,
        "last_message_id": None,
        "recipients": [recipient],
    }


def guild(
    guild_id: str,
    name: str,
    *,
    channels: list[dict[str, Any]],
    threads: list[dict[str, Any]] | None = None,
    owner_id: str = "1",
    roles: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A GUILD_CREATE payload (an available guild, as the gateway sends it after READY)."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "owner_id": owner_id,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": guild_id,
                "name": "@everyone",
                "color": 0,
                "hoist": False,
                "position": 0,
                "permissions": "1071698660929",
                "managed": False,
                "mentionable": False,
                "flags": 0,
            },
            *(roles or []),
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_flags": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "large": False,
        "unavailable": False,
        "member_count": 2,
        "joined_at": now_iso(),
        "members": [],
        "voice_states": [],
        "presences": [],
        "channels": channels,
        "threads": threads or [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def message(
    *,
    message_id: str,
    channel_id: str,
    author: dict[str, Any],
    content: str,
    guild_id: str | None = None,
    mentions: list[dict[str, Any]] | None = None,
    reference: dict[str, Any] | None = None,
    referenced: dict[str, Any] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    webhook_id: str | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    """A message object (MESSAGE_CREATE's `d` adds guild_id and member in guilds)."""
    data: dict[str, Any] = {
        "id": message_id,
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "type": MESSAGE_REPLY if reference else MESSAGE_DEFAULT,
        "flags": flags,
    }
    if guild_id is not None:
        data["guild_id"] = guild_id
        data["member"] = member()
    if reference is not None:
        data["message_reference"] = reference
        data["referenced_message"] = referenced
    if webhook_id is not None:
        data["webhook_id"] = webhook_id
    return data


def interaction(
    *,
    interaction_id: str,
    token: str,
    application_id: str,
    kind: int,
    data: dict[str, Any],
    channel: dict[str, Any],
    user_data: dict[str, Any],
    guild_id: str | None,
    message_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload: `member` in guilds, `user` in DMs."""
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": application_id,
        "type": kind,
        "data": data,
        "channel": channel,
        "channel_id": channel["id"],
        "token": token,
        "version": 1,
        "locale": "en-US",
        "app_permissions": "1071698660929",
        "entitlements": [],
        "authorizing_integration_owners": {"0": channel.get("guild_id") or "0"},
        "context": 0 if guild_id else 1,
        "attachment_size_limit": 8_388_608,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild_locale"] = "en-US"
        payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
        payload["member"] = {**member(user_data), "permissions": "1071698660929"}
    else:
        payload["user"] = user_data
    if message_data is not None:
        payload["message"] = message_data
    return payload
