"""The platforms Parley knows: which are configured (by their credentials), loading an adapter by
module name only when it is configured (an unused platform costs no import), and each
platform's set-up commands (`python -m bot slack manifest`, `teams package`, `discord
invite-url`). Adding a platform is one line in `PLATFORMS` plus an `adapters/<name>` package
exposing `create_adapter(settings)`.
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable
from pathlib import Path

from bot.adapter import Adapter
from bot.errors import ConfigError
from bot.settings import Settings

PLATFORMS: dict[str, tuple[str, Callable[[Settings], bool]]] = {
    "slack": ("adapters.slack", lambda s: s.slack_enabled),
    "discord": ("adapters.discord", lambda s: s.discord_enabled),
    "teams": ("adapters.teams", lambda s: s.teams_enabled),
}


def configured_platforms(settings: Settings) -> list[str]:
    return [name for name, (_, enabled) in PLATFORMS.items() if enabled(settings)]


def load_adapter(name: str, settings: Settings) -> Adapter:
    module_name, _ = PLATFORMS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(module_name):
            raise ConfigError(
                f"{name} credentials are set, but this version of Parley has no {name} adapter yet. "
                f"Unset the {name.upper()}_* variables."
            ) from None
        raise ConfigError(
            f"{name} credentials are set, but the {name} extra is not installed ({exc.name} is "
            f"missing). Install it with: pip install 'parley[{name}]' (make run installs every "
            "platform), or unset the variables."
        ) from None
    adapter: Adapter = module.create_adapter(settings)
    return adapter


def secret_values(settings: Settings) -> list[str]:
    values = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            values.append(value.get_secret_value())
    return values


def register_platform_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Platform helper commands; each imports its adapter only when run."""
    slack = sub.add_parser("slack", help="Slack app helpers")
    slack_sub = slack.add_subparsers(dest="slack_command", required=True)
    manifest = slack_sub.add_parser("manifest", help="print the Slack app manifest for a base URL")
    manifest.add_argument(
        "--base-url",
        help="public HTTPS URL of this bot, e.g. https://parley.example.org (not for Socket Mode)",
    )
    manifest.add_argument(
        "--socket-mode", action="store_true", help="Socket Mode (no request URLs)"
    )
    manifest.add_argument("--format", choices=("yaml", "json"), default="yaml")
    manifest.set_defaults(handler=_slack_manifest)

    teams = sub.add_parser("teams", help="Microsoft Teams app helpers")
    teams_sub = teams.add_subparsers(dest="teams_command", required=True)
    package = teams_sub.add_parser(
        "package", help="write the Teams app package (manifest + icons) to sideload or upload"
    )
    package.add_argument("--app-id", required=True, help="the bot's Microsoft App ID (a GUID)")
    package.add_argument("--base-url", required=True, help="public https URL of this bot")
    package.add_argument("-o", "--output", required=True, type=Path, help="the .zip to write")
    package.set_defaults(handler=_teams_package)
    discord_cmd = sub.add_parser("discord", help="Discord application helpers")
    discord_sub = discord_cmd.add_subparsers(dest="discord_command", required=True)
    invite = discord_sub.add_parser(
        "invite-url", help="print the URL that adds the bot (and its commands) to a server"
    )
    invite.add_argument(
        "--client-id",
        default="",
        help="application id (default: DISCORD_APPLICATION_ID, else read from DISCORD_BOT_TOKEN)",
    )
    invite.set_defaults(handler=_discord_invite_url)


def _slack_manifest(args: argparse.Namespace, settings: Settings) -> int:
    import yaml

    from adapters.slack.manifest import render_manifest

    data = render_manifest(
        _public_base_url(args.base_url, socket_mode=args.socket_mode),
        socket_mode=args.socket_mode,
        command=settings.slack_command,
    )
    print(
        json.dumps(data, indent=2)
        if args.format == "json"
        else yaml.safe_dump(data, sort_keys=False)
    )
    return 0


def _teams_package(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.teams.manifest import write_package

    try:
        path = write_package(args.output, args.app_id, args.base_url)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    print(f"wrote {path}: upload it in Teams (Apps → Manage your apps → Upload an app)")
    return 0


def _discord_invite_url(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.discord.manifest import application_id_from_token, invite_url

    client_id = args.client_id or settings.discord_application_id or ""
    if not client_id:
        if settings.discord_bot_token is None:
            raise ConfigError(
                "Set DISCORD_APPLICATION_ID or DISCORD_BOT_TOKEN, or pass --client-id "
                "(Developer Portal → General Information → Application ID)."
            )
        client_id = application_id_from_token(settings.discord_bot_token.get_secret_value())
    print(invite_url(client_id))
    return 0


def _public_base_url(value: str | None, *, socket_mode: bool) -> str:
    """--base-url: required in HTTP mode, an https URL with a host and no query; Slack calls
    `<base>/slack/events` on it. Socket Mode needs none (the manifest has no request URLs)."""
    from urllib.parse import urlsplit

    if value is None:
        if socket_mode:
            return "https://example.invalid"  # unused: Socket Mode manifests have no URLs
        raise ConfigError(
            "slack manifest needs --base-url, the public HTTPS address Slack will call (e.g. "
            "--base-url https://parley.example.org), or --socket-mode for no public URL."
        )
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"--base-url {value!r} is not a public HTTPS URL; Slack only calls https://host[/path] "
            "(e.g. https://parley.example.org)."
        )
    return value
