"""The Teams app manifest (schema 1.29) and the app package Teams sideloads.

`render_manifest(app_id, base_url)` fills the bot's Microsoft App ID (also used as the Teams
app id) and the bot's public host (`validDomains`, developer links) into one manifest: a bot in
the personal, team and groupChat scopes with the command list Parley's one grammar understands.
`write_package` zips it with the two icons, which is what "Upload a custom app" takes.
`manifests/teams/manifest.json` is the same document for a placeholder id and example.com.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from adapters.teams.icons import ACCENT, color_icon, outline_icon

SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
)
MANIFEST_VERSION = "1.29"
APP_VERSION = "1.0.0"
PLACEHOLDER_APP_ID = "00000000-0000-0000-0000-000000000000"
SCOPES = ["personal", "team", "groupChat"]
COMMANDS = (
    ("ask", "Ask a question: ask <question>"),
    ("reset", "Forget this conversation"),
    ("help", "What Parley can do"),
    ("kb status", "Documents, chunks and the last indexing run"),
    ("kb search", "Search the knowledge base: kb search <query>"),
    ("kb reindex", "Re-index the knowledge base (admins)"),
    ("kb cancel", "Stop the running re-index (admins)"),
    ("kb sources", "What is indexed, and when (admins)"),
    ("kb add", "Add a source: kb add <URL or path> (admins)"),
    ("kb remove", "Remove an added source: kb remove <source> (admins)"),
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def render_manifest(app_id: str, base_url: str) -> dict[str, Any]:
    if not _GUID.match(app_id):
        raise ValueError(f"the app id must be a GUID (the bot's Microsoft App ID), got {app_id!r}")
    parsed = urlparse(base_url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise ValueError(f"the base URL must be https://<public host>, got {base_url!r}")
    base = base_url.rstrip("/")
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": APP_VERSION,
        "id": app_id,
        "developer": {
            "name": "Parley",
            "websiteUrl": base,
            "privacyUrl": f"{base}/privacy",
            "termsOfUseUrl": f"{base}/terms",
        },
        "name": {"short": "Parley", "full": "Parley: answers from your team's documents"},
        "description": {
            "short": "Cited answers from your documents, right in Teams.",
            "full": (
                "Parley answers questions from your team's documents with citations, keeps the "
                "context of each reply chain and chat, streams answers as they are written, and "
                "runs tools that change anything only after someone approves them. Mention "
                "@Parley in a channel or group chat, or write to it directly."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": SCOPES,
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {
                        "scopes": SCOPES,
                        "commands": [
                            {"title": title, "description": description}
                            for title, description in COMMANDS
                        ],
                    }
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [parsed.hostname],
    }


def write_package(path: Path, app_id: str, base_url: str) -> Path:
    """The app package (manifest.json, color.png, outline.png at the zip's root)."""
    manifest = render_manifest(app_id, base_url)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return path
