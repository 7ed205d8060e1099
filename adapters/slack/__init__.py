"""Slack adapter: the only package that imports slack_bolt / slack_sdk.

The composition root calls `create_adapter(settings)` when SLACK_BOT_TOKEN is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from adapters.slack.adapter import SlackAdapter
    from bot.settings import Settings


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def create_adapter(settings: Settings) -> SlackAdapter:
    """Build the Slack adapter from settings (HTTP mode, or Socket Mode when SLACK_APP_TOKEN is
    set). Raises ConfigError when a required variable is missing."""
    from adapters.slack.adapter import SlackAdapter
    from bot.errors import ConfigError

    token = _secret(settings.slack_bot_token)
    if not token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token (xoxb-…) "
            "from OAuth & Permissions."
        )
    return SlackAdapter(
        bot_token=token,
        signing_secret=_secret(settings.slack_signing_secret),
        app_token=_secret(settings.slack_app_token),
        api_url=settings.slack_api_url,
        command=settings.slack_command,
        native_streaming=settings.slack_native_streaming,
    )


__all__ = ["create_adapter"]
