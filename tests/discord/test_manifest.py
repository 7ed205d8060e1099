"""manifests/discord/ matches what the adapter registers; the invite URL and its CLI."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from adapters.discord.manifest import (
    COMMANDS,
    INTENTS_INTEGER,
    PERMISSION_INTEGER,
    app_summary,
    application_id_from_token,
    invite_url,
)
from bot.cli import main
from bot.errors import ConfigError
from tests.fakes.discord_wire import check_command

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "discord"


def test_the_manifest_files_are_what_the_adapter_registers() -> None:
    assert json.loads((MANIFESTS / "commands.json").read_text()) == list(COMMANDS)
    assert json.loads((MANIFESTS / "app.json").read_text()) == app_summary()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c["name"])
def test_every_command_passes_discords_validation(command: dict[str, Any]) -> None:
    check_command(command)  # raises like Discord's 400 50035 would


def test_permissions_and_intents_are_the_documented_bits() -> None:
    # View Channel, Send Messages, Embed Links, Read Message History, Create Public Threads,
    # Send Messages in Threads; guilds, guild messages, DMs, message content.
    assert PERMISSION_INTEGER == 1024 + 2048 + 16384 + 65536 + 2**35 + 2**38
    assert INTENTS_INTEGER == 1 + 512 + 4096 + 32768


def test_the_invite_url_asks_for_the_bot_and_commands_scopes() -> None:
    query = parse_qs(urlparse(invite_url("1100000000000000001")).query)
    assert query == {
        "client_id": ["1100000000000000001"],
        "scope": ["bot applications.commands"],
        "permissions": [str(PERMISSION_INTEGER)],
    }
    with pytest.raises(ConfigError):
        invite_url("not-a-number")


def test_the_application_id_is_read_from_a_bot_token() -> None:
    first = base64.b64encode(b"1100000000000000001").decode().rstrip("=")
    assert application_id_from_token(f"{first}.GaBcDe.signature") == "1100000000000000001"
    with pytest.raises(ConfigError, match="DISCORD_APPLICATION_ID"):
        application_id_from_token("garbage")


@pytest.fixture(autouse=True)
def _keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main()` configures process-wide logging for a real run; in the test process that would
    outlive the test and change what later tests' caplog sees."""
    monkeypatch.setattr("bot.cli.configure_logging", lambda *a, **kw: None)


def test_the_cli_prints_the_invite_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = base64.b64encode(b"1100000000000000001").decode().rstrip("=")
    monkeypatch.setenv("DISCORD_BOT_TOKEN", f"{first}.GaBcDe.signature")
    assert main(["discord", "invite-url"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == invite_url("1100000000000000001")
    assert main(["discord", "invite-url", "--client-id", "42"]) == 0
    assert "client_id=42&" in capsys.readouterr().out


def test_the_cli_without_an_id_says_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["discord", "invite-url"]) == 2
    assert "DISCORD_APPLICATION_ID" in capsys.readouterr().err
