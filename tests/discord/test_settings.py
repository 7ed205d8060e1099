"""The Discord settings block and `create_adapter`: typed once, errors that say how to fix."""

from __future__ import annotations

import pytest

from adapters.discord import create_adapter
from adapters.discord.adapter import DEFAULT_API_URL
from bot.capabilities import Placement
from bot.errors import ConfigError
from bot.settings import load_settings


def test_discord_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "t0ken")
    monkeypatch.setenv("DISCORD_GUILD_IDS", "140, 141")
    monkeypatch.setenv("DISCORD_SHARDS", "2")
    monkeypatch.setenv("DISCORD_REPLY_IN_THREAD", "true")
    settings = load_settings(_env_file=None)
    assert settings.discord_enabled
    assert settings.discord_guild_ids == ("140", "141")
    assert settings.discord_shards == 2 and settings.discord_reply_in_thread
    adapter = create_adapter(settings)
    assert adapter.capabilities.channel_reply is Placement.THREAD
    assert adapter.rest.api_url == DEFAULT_API_URL


def test_a_guild_id_that_is_not_a_number_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS"):
        load_settings(_env_file=None, discord_guild_ids="general")


def test_an_empty_token_says_where_to_get_one() -> None:
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        create_adapter(load_settings(_env_file=None, discord_bot_token=" "))


def test_the_default_placement_is_a_reply() -> None:
    adapter = create_adapter(load_settings(_env_file=None, discord_bot_token="t0ken"))
    assert adapter.capabilities.channel_reply is Placement.REPLY
    assert adapter.capabilities.max_chars == 2000 and adapter.capabilities.action_response
