"""The Slack app manifest validates against Slack's published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from adapters.slack.manifest import render_manifest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "schemas" / "slack-manifest.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if SCHEMA.exists():
        loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
        return loaded
    pytest.skip("Slack's manifest schema (../shared/schemas) is not on this machine")


@pytest.mark.parametrize("socket_mode", [False, True])
def test_rendered_manifest_is_valid(schema: dict[str, Any], socket_mode: bool) -> None:
    manifest = render_manifest("https://bot.example.org/", socket_mode=socket_mode)
    jsonschema.validate(manifest, schema)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is socket_mode
    assert set(settings["event_subscriptions"]["bot_events"]) >= {
        "app_mention",
        "message.im",
        "message.channels",
    }
    assert manifest["features"]["slash_commands"][0]["command"] == "/parley"
    assert settings["interactivity"]["is_enabled"]
    urls = [
        settings["event_subscriptions"].get("request_url"),
        settings["interactivity"].get("request_url"),
        manifest["features"]["slash_commands"][0].get("url"),
    ]
    expected = None if socket_mode else "https://bot.example.org/slack/events"
    assert urls == [expected] * 3


def test_checked_in_manifests_match_the_function(schema: dict[str, Any]) -> None:
    expected = render_manifest("https://example.com")
    from_yaml = yaml.safe_load((ROOT / "manifests/slack/manifest.yaml").read_text())
    from_json = json.loads((ROOT / "manifests/slack/manifest.json").read_text())
    assert from_yaml == expected == from_json
    jsonschema.validate(from_yaml, schema)


def test_scopes_cover_what_the_adapter_calls() -> None:
    scopes = set(render_manifest("https://x.io")["oauth_config"]["scopes"]["bot"])
    assert {
        "app_mentions:read",
        "channels:history",
        "im:history",
        "chat:write",
        "commands",
        "users:read",
    } <= scopes
