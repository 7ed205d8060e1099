"""What the Discord application needs: its app commands, gateway intents, permissions, and the
install URL.

`manifests/discord/` holds the same data as files (commands.json, app.json; a test keeps them
equal to this module); the adapter registers `COMMANDS` on start (PUT, which replaces the list,
so a removed command disappears too), per guild when DISCORD_GUILD_IDS is set (instant) or
globally. `python -m bot discord invite-url` prints `invite_url(application_id)`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from bot.errors import ConfigError

_STRING, _SUBCOMMAND, _USER, _CHANNEL = 3, 1, 6, 7
_MESSAGE_CHANNELS = [0, 2, 5, 13, 15, 16]
"""Text, voice, announcement, stage, forum, media: the guild channels that hold messages, but not
threads, whose usage is recorded under their parent channel."""

COMMANDS: tuple[dict[str, Any], ...] = (
    {
        "name": "ask",
        "type": 1,
        "description": "Ask Parley a question (the answer is posted in the channel)",
        "options": [
            {
                "type": _STRING,
                "name": "question",
                "description": "What you want to know",
                "required": True,
                "max_length": 2000,
            }
        ],
    },
    {"name": "reset", "type": 1, "description": "Forget this conversation's history"},
    {"name": "help", "type": 1, "description": "What Parley can do and how to ask"},
    {
        "name": "kb",
        "type": 1,
        "description": "The knowledge base",
        "options": [
            {
                "type": _SUBCOMMAND,
                "name": "reindex",
                "description": "Re-read the documents (admins)",
                "options": [
                    {
                        "type": _STRING,
                        "name": "source",
                        "description": "Only this source (default: every source)",
                        "required": False,
                    }
                ],
            },
            {"type": _SUBCOMMAND, "name": "status", "description": "What is indexed, and when"},
            {
                "type": _SUBCOMMAND,
                "name": "search",
                "description": "Search the knowledge base",
                "options": [
                    {
                        "type": _STRING,
                        "name": "query",
                        "description": "What to look for",
                        "required": True,
                    }
                ],
            },
            {"type": _SUBCOMMAND, "name": "cancel", "description": "Stop the reindex (admins)"},
            {
                "type": _SUBCOMMAND,
                "name": "sources",
                "description": "What is indexed, and when each was (admins)",
            },
            {
                "type": _SUBCOMMAND,
                "name": "add",
                "description": "Add a URL or server path to the knowledge base (admins)",
                "options": [
                    {
                        "type": _STRING,
                        "name": "source",
                        "description": "An https:// URL or a path on the server",
                        "required": True,
                    }
                ],
            },
            {
                "type": _SUBCOMMAND,
                "name": "remove",
                "description": "Remove a source added with /kb add (admins)",
                "options": [
                    {
                        "type": _STRING,
                        "name": "source",
                        "description": "The source as /kb sources lists it",
                        "required": True,
                    }
                ],
            },
        ],
    },
    {
        "name": "usage",
        "type": 1,
        "description": "Tokens and estimated cost (yours; admins: anyone's or a channel's)",
        "options": [
            {
                "type": _STRING,
                "name": "period",
                "description": "Since today 00:00, Monday 00:00 or the 1st, UTC (default: today)",
                "required": False,
                "choices": [{"name": p, "value": p} for p in ("today", "week", "month")],
            },
            {
                "type": _USER,
                "name": "user",
                "description": "One person's usage (admins; not with channel)",
                "required": False,
            },
            {
                "type": _CHANNEL,
                "name": "channel",
                "description": "One channel's usage (admins; not with user)",
                "required": False,
                "channel_types": _MESSAGE_CHANNELS,
            },
        ],
    },
    {"name": "export-me", "type": 1, "description": "Everything Parley stores about you (private)"},
    {"name": "forget-me", "type": 1, "description": "Delete your messages (asks first)"},
)
PRIVATE_COMMANDS = frozenset({"reset", "help", "kb", "usage", "export-me", "forget-me"})
"""Commands whose answers only the person who ran them sees (ephemeral); `/ask` is public."""

INTENTS: dict[str, int] = {
    "GUILDS": 1 << 0,
    "GUILD_MESSAGES": 1 << 9,
    "DIRECT_MESSAGES": 1 << 12,
    "MESSAGE_CONTENT": 1 << 15,  # privileged: enable it in the Developer Portal (Bot page)
}
PERMISSIONS: dict[str, int] = {
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "EMBED_LINKS": 1 << 14,  # the sources embed
    "READ_MESSAGE_HISTORY": 1 << 16,  # replies reference the question; thread follow-ups
    "CREATE_PUBLIC_THREADS": 1 << 35,  # DISCORD_REPLY_IN_THREAD=true
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
}
PERMISSION_INTEGER = sum(PERMISSIONS.values())
INTENTS_INTEGER = sum(INTENTS.values())
SCOPES = ("bot", "applications.commands")
INSTALL_URL = "https://discord.com/oauth2/authorize"


def invite_url(application_id: str) -> str:
    if not application_id.isdigit():
        raise ConfigError(
            f"{application_id!r} is not a Discord application id (a number: Developer Portal → "
            "General Information → Application ID)."
        )
    query = urlencode(
        {"client_id": application_id, "scope": " ".join(SCOPES), "permissions": PERMISSION_INTEGER}
    )
    return f"{INSTALL_URL}?{query}"


def application_id_from_token(token: str) -> str:
    """A bot token's first part is its user id (= the application id) in base64."""
    first = token.split(".", 1)[0]
    try:
        decoded = base64.b64decode(first + "=" * (-len(first) % 4), validate=False).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not decoded.isdigit():
        raise ConfigError(
            "DISCORD_BOT_TOKEN does not look like a bot token; set DISCORD_APPLICATION_ID "
            "(Developer Portal → General Information → Application ID) or pass --client-id."
        )
    return decoded


def app_summary() -> dict[str, Any]:
    """manifests/discord/app.json: what to set up in the Developer Portal."""
    return {
        "scopes": list(SCOPES),
        "permissions": PERMISSION_INTEGER,
        "permission_names": list(PERMISSIONS),
        "intents": INTENTS_INTEGER,
        "intent_names": list(INTENTS),
        "privileged_intents": ["MESSAGE_CONTENT"],
        "install_url_template": f"{INSTALL_URL}?client_id={{application_id}}&scope="
        + "+".join(SCOPES)
        + f"&permissions={PERMISSION_INTEGER}",
    }
