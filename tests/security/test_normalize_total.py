"""Every adapter's normalize is total: any JSON gives an event or a skip, never an exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack.normalize import BotIdentity, normalize, plain_text
from bot.events import Event

PAYLOADS = Path(__file__).parent.parent / "slack" / "payloads"
BOT = BotIdentity(user_id="UBOT0001", bot_id="BBOT0001")
CAPTURED = [json.loads(p.read_text()) for p in sorted(PAYLOADS.glob("*.json"))]
KEYS = sorted({k for p in CAPTURED for k in p} | {k for p in CAPTURED for k in p.get("event", {})})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)


def mutate(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
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
