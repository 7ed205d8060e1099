"""The Slack app manifest, with request URLs filled from the bot's public base URL.

`manifests/slack/manifest.yaml` is the same document for `https://example.com` in HTTP mode;
`render_manifest(base_url, socket_mode=…)` builds it for a real deployment (the CLI:
`python -m bot slack manifest --base-url URL [--socket-mode]`). In Socket Mode Slack wants no
request URLs, so they are left out.
"""

from __future__ import annotations

from typing import Any

EVENTS_PATH = "/slack/events"

BOT_SCOPES = (
    "app_mentions:read",  # app_mention events
    "channels:history",  # message.channels: thread follow-ups; conversations.replies
    "groups:history",  # the same in private channels the bot is invited to
    "im:history",  # message.im
    "mpim:history",  # conversations.replies in group DMs
    "chat:write",  # postMessage / update / postEphemeral / start|append|stopStream
    "commands",  # the slash command
    "im:write",  # conversations.open: the DM an export-me file goes to
    "files:write",  # files.getUploadURLExternal / completeUploadExternal (export-me)
    "users:read",  # users.info: workspace admins and owners count as Parley admins
)
BOT_EVENTS = ("app_mention", "message.im", "message.channels", "message.groups")


def render_manifest(
    base_url: str,
    *,
    socket_mode: bool = False,
    command: str = "/parley",
    name: str = "Parley",
) -> dict[str, Any]:
    """The manifest as a dict (dump it as YAML or JSON)."""
    url = base_url.rstrip("/") + EVENTS_PATH
    slash: dict[str, Any] = {
        "command": command,
        "description": "Ask Parley, reset this conversation, or manage the knowledge base",
        "usage_hint": "ask <question> | reset | help | kb reindex|status|search <query>",
        "should_escape": False,
    }
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        slash["url"] = url
        events["request_url"] = url
        interactivity["request_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Cited answers from your knowledge base, with approved tools.",
            "background_color": "#2c2d30",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name.lower(), "always_online": True},
            "slash_commands": [slash],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
