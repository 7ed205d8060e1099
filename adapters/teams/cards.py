"""Adaptive Cards for messages with buttons (approvals): pure functions, schema 1.5.

Each `Action` becomes an `Action.Execute` (Teams' universal action: the click is an
`adaptiveCard/action` invoke, answered synchronously with the refreshed card) whose `fallback`
is an `Action.Submit` with the same data, for clients that cannot run Action.Execute (the click
then arrives as a message with the data in `value`). The data is only
`{"parley": "parley:<id>:<value>"}`; an object rather than a bare string, because Teams posts a
string `data` of an Action.Submit into the chat as if the user had typed it.

The text is a TextBlock with Adaptive Cards' Markdown subset (bold, italic, lists, links); the
card after a decision has no actions and replaces the one that was clicked.
"""

from __future__ import annotations

from typing import Any

from adapters.teams.normalize import ACTION_KEY, encode_action
from bot.messages import Action, ActionStyle, OutgoingMessage

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.5"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_STYLES = {
    ActionStyle.PRIMARY: "positive",
    ActionStyle.DANGER: "destructive",
    ActionStyle.DEFAULT: "default",
}


def adaptive_card(message: OutgoingMessage) -> dict[str, Any]:
    """The card showing `message`: its text, then one button per action."""
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "body": [{"type": "TextBlock", "text": message.text_markdown, "wrap": True}],
        "msteams": {"width": "Full"},
    }
    if message.actions:
        card["actions"] = [_execute(action) for action in message.actions]
    return card


def card_attachment(message: OutgoingMessage) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": adaptive_card(message)}


def _execute(action: Action) -> dict[str, Any]:
    data = {ACTION_KEY: encode_action(action.id, action.value)}
    style = _STYLES[action.style]
    return {
        "type": "Action.Execute",
        "title": action.label,
        "verb": action.id,
        "data": data,
        "style": style,
        "fallback": {"type": "Action.Submit", "title": action.label, "data": data, "style": style},
    }
