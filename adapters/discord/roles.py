"""Discord server roles (`bot.adapter.RoleDirectory`): the server's owner and members whose
roles grant Manage Server or Administrator in that guild are admins.

Read through discord.py: the guild from its gateway cache (GUILD_CREATE carries the roles and
the owner; GET /guilds/{id} when it is not cached), the member from the cache or GET
/guilds/{id}/members/{user} (Parley runs without the privileged members intent, so most members
are not cached). `Member.guild_permissions` folds @everyone and the member's roles the way
Discord does. A member that is not in the guild (10007 Unknown Member) is a firm "no", cached
(`bot.core.role_cache`); other failures are raised for `bot.core.access` to log and refuse.
Direct messages have no guild and so no admins.
"""

from __future__ import annotations

from collections.abc import Callable

import discord

from bot.core.role_cache import RoleCache
from bot.refs import ConversationRef


class DiscordRoles:
    def __init__(self, client: Callable[[], discord.Client | None]) -> None:
        self._client = client
        self.cache = RoleCache()

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool:
        client = self._client()
        if client is None or not ref.workspace_id.isdigit() or not user_id.isdigit():
            return False
        key = (ref.workspace_id, user_id)
        known = self.cache.get(key)
        if known is not None:
            return known
        guild = client.get_guild(int(ref.workspace_id)) or await client.fetch_guild(
            int(ref.workspace_id)
        )
        admin = await _is_admin(guild, int(user_id))
        self.cache.put(key, admin)
        return admin


async def _is_admin(guild: discord.Guild, user_id: int) -> bool:
    if guild.owner_id == user_id:
        return True
    member = guild.get_member(user_id)
    if member is None:
        try:
            member = await guild.fetch_member(user_id)
        except discord.NotFound:
            return False
    permissions = member.guild_permissions
    return permissions.administrator or permissions.manage_guild
