"""Every adapter's normalize is total: any JSON gives an event or a skip, never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord import normalize as discord
from adapters.slack.normalize import BotIdentity, normalize, plain_text
from adapters.teams import normalize as teams
from bot.events import Event
from bot.refs import ConversationKind

TESTS = Path(__file__).parent.parent
PAYLOADS = TESTS / "slack" / "payloads"
BOT = BotIdentity(user_id="UBOT0001", bot_id="BBOT0001")
CAPTURED = [json.loads(p.read_text()) for p in sorted(PAYLOADS.glob("*.json"))]
KEYS = sorted({k for p in CAPTURED for k in p} | {k for p in CAPTURED for k in p.get("event", {})})


def _keys(value: Any) -> set[str]:
    """Every key anywhere in a JSON value (what mutations draw from)."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


DISCORD = [json.loads(p.read_text()) for p in sorted((TESTS / "discord" / "payloads").glob("*"))]
DISCORD_BOT = discord.BotIdentity(
    user_id="1100000000000000001", application_id="1100000000000000001"
)
TEAMS = [json.loads(p.read_text()) for p in sorted((TESTS / "teams" / "payloads").glob("*.json"))]
PLACES = st.none() | st.builds(
    discord.Place,
    channel_id=st.text(max_size=20),
    thread_id=st.none() | st.text(max_size=20),
    kind=st.sampled_from(ConversationKind),
)


def json_of(keys: list[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, its object keys mostly drawn from `keys` (so handlers are reached)."""
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), inner, max_size=6)
        ),
        max_leaves=30,
    )


json_values = json_of(KEYS)


def mutate(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(1, 4))):
        holder = out
        if isinstance(out.get("event"), dict) and data.draw(st.booleans()):
            holder = out["event"]
        holder[data.draw(st.sampled_from(KEYS))] = data.draw(json_values)
    return out


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_slack_normalize_of_any_json(value: Any) -> None:
    assert normalize(value, BOT) is None or isinstance(normalize(value, BOT), Event)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CAPTURED), st.data())
def test_slack_normalize_of_mutated_captured_payloads(base: dict[str, Any], data: Any) -> None:
    event = normalize(mutate(base, data), BOT)
    assert event is None or isinstance(event, Event)


@given(st.text())
def test_plain_text_never_makes_a_mention_from_escaped_text(typed: str) -> None:
    wire = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # Slack's escape
    assert "<@" not in plain_text(wire) and "<!" not in plain_text(wire)


def test_plain_text_examples() -> None:
    assert plain_text("&lt;@U123&gt; hi") == "‹@U123> hi"
    assert plain_text("&lt;!channel&gt;") == "‹!channel>"
    assert plain_text("<@UBOT0001> what is 1 &lt; 2?", "UBOT0001") == "what is 1 < 2?"
    assert plain_text("ask <@U9|ada>") == "ask @ada"


def deep_mutate(base: Any, data: st.DataObject, values: st.SearchStrategy[Any]) -> Any:
    """A copy of `base` with one to four values anywhere in it (nested objects and lists
    included) replaced by arbitrary JSON, or a key added to an object on the way."""
    out = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(1, 4))):
        holder: dict[Any, Any] | list[Any] | None = None
        key: Any = None  # a key of `holder` (an index when it is a list)
        node = out
        while isinstance(node, dict | list) and node and data.draw(st.booleans()):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            holder, key = node, data.draw(st.sampled_from(keys))
            node = node[key]
        replacement = data.draw(values)
        if holder is None:
            if isinstance(out, dict):
                out[data.draw(st.text(max_size=8))] = replacement
            continue
        holder[key] = replacement
    return out


DISCORD_KEYS = sorted(_keys(DISCORD))
DISCORD_KINDS = [*sorted({p["t"] for p in DISCORD}), "GUILD_CREATE", ""]
discord_values = json_of(DISCORD_KEYS)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DISCORD_KINDS) | st.text(max_size=12), discord_values, PLACES)
def test_discord_normalize_of_any_json(kind: str, value: Any, place: Any) -> None:
    event = discord.normalize(kind, value, DISCORD_BOT, place)
    assert event is None or isinstance(event, Event)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(DISCORD), st.data(), PLACES)
def test_discord_normalize_of_mutated_captured_payloads(
    base: dict[str, Any], data: Any, place: Any
) -> None:
    mutated = deep_mutate(base["d"], data, discord_values)
    event = discord.normalize(base["t"], mutated, DISCORD_BOT, place)
    assert event is None or isinstance(event, Event)


def test_discord_place_of_any_channel_object() -> None:
    @settings(max_examples=200)
    @given(discord_values)
    def check(value: Any) -> None:
        assert isinstance(discord.place_of(value), discord.Place)

    check()


TEAMS_KEYS = sorted(_keys(TEAMS))
teams_values = json_of(TEAMS_KEYS)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(teams_values)
def test_teams_normalize_of_any_json(value: Any) -> None:
    event = teams.normalize(value)
    assert event is None or isinstance(event, Event)
    assert isinstance(teams.is_bot_installed(value), bool)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TEAMS), st.data())
def test_teams_normalize_of_mutated_captured_payloads(base: dict[str, Any], data: Any) -> None:
    mutated = deep_mutate(base, data, teams_values)
    event = teams.normalize(mutated)
    assert event is None or isinstance(event, Event)
    assert isinstance(teams.is_bot_installed(mutated), bool)
