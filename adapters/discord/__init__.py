"""Discord adapter: the only package that imports discord.py.

The composition root calls `create_adapter(settings)` when DISCORD_BOT_TOKEN is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.discord.adapter import DiscordAdapter
    from bot.settings import Settings


def create_adapter(settings: Settings) -> DiscordAdapter:
    """Build the Discord adapter from settings. Raises ConfigError when a required variable is
    missing."""
    from adapters.discord.adapter import DEFAULT_API_URL, DiscordAdapter
    from bot.errors import ConfigError

    token = settings.discord_bot_token.get_secret_value() if settings.discord_bot_token else ""
    if not token.strip():
        raise ConfigError(
            "DISCORD_BOT_TOKEN is not set: copy the bot token from the Developer Portal "
            "(your application → Bot → Reset Token)."
        )
    return DiscordAdapter(
        token=token.strip(),
        api_url=settings.discord_api_url or DEFAULT_API_URL,
        gateway_url=settings.discord_gateway_url or "",
        guild_ids=settings.discord_guild_ids,
        shards=settings.discord_shards,
        reply_in_thread=settings.discord_reply_in_thread,
    )


__all__ = ["create_adapter"]
