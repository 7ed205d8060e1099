"""normalize() on captured-shape gateway payloads (tests/discord/payloads/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.normalize import BotIdentity, Place, normalize, place_of
from bot.events import ActionClick, Command, IncomingMessage, OriginKind
from bot.refs import ConversationKind
from bot.usage.report import UsageRequest, parse_request

PAYLOADS = Path(__file__).parent / "payloads"
BOT = BotIdentity(user_id="1100000000000000001", application_id="1100000000000000001")
CHANNEL = "1500000000000000001"
GUILD = "1400000000000000001"


def load(name: str) -> tuple[str, dict[str, Any]]:
    data = json.loads((PAYLOADS / f"{name}.json").read_text())
    return data["t"], data["d"]


def event(name: str, place: Place | None = None) -> Any:
    kind, data = load(name)
    return normalize(kind, data, BOT, place)


def test_a_mention_is_a_message_with_the_mention_removed_and_other_mentions_named() -> None:
    message = event("message_mention")
    assert isinstance(message, IncomingMessage)
    assert message.mentions_bot and not message.replies_to_bot
    assert message.text == "what is our refund policy? cc @Grace"
    assert message.event_id == "1577500000000000001"
    assert message.origin.kind is OriginKind.MESSAGE
    assert message.origin.message_id == "1577500000000000001"
    assert message.ref.workspace_id == GUILD and message.ref.channel_id == CHANNEL
    assert message.ref.kind is ConversationKind.CHANNEL and message.ref.thread_id is None
    assert message.author.id == "1200000000000000001" and not message.author.is_bot
    assert message.origin.received_at is None


def test_the_nickname_mention_form_counts_too() -> None:
    message = event("message_mention_nick")
    assert message.mentions_bot and message.text == "hey hi"


def test_a_plain_channel_message_is_handed_over_unmentioned() -> None:
    message = event("message_channel")
    assert isinstance(message, IncomingMessage)
    assert not message.mentions_bot and not message.replies_to_bot


def test_a_dm_is_direct_in_the_me_workspace() -> None:
    message = event(
        "message_dm", Place(channel_id="1600000000000000001", kind=ConversationKind.DIRECT)
    )
    assert message.ref.kind is ConversationKind.DIRECT and message.ref.workspace_id == "@me"
    # Without a resolved place, a message with no guild is a DM too.
    assert event("message_dm").ref.kind is ConversationKind.DIRECT


def test_a_thread_message_names_the_parent_channel_and_the_thread() -> None:
    thread = {"id": "1577400000000000009", "type": 11, "parent_id": CHANNEL, "guild_id": GUILD}
    message = event("message_thread", place_of(thread))
    assert message.ref.channel_id == CHANNEL
    assert message.ref.thread_id == "1577400000000000009"
    assert message.ref.kind is ConversationKind.THREAD


def test_a_reply_to_the_bot_is_a_reply_not_a_mention() -> None:
    reply = event("message_reply_to_bot")  # the reply ping lists the bot in `mentions`
    assert reply.replies_to_bot and not reply.mentions_bot and reply.text == "why 5?"
    other = event("message_reply_to_person")
    assert not other.replies_to_bot and not other.mentions_bot


@pytest.mark.parametrize("name", ["message_own", "message_other_bot", "message_webhook"])
def test_bots_webhooks_and_our_own_messages_come_marked_as_bots(name: str) -> None:
    message = event(name)
    assert isinstance(message, IncomingMessage) and message.author.is_bot


@pytest.mark.parametrize(
    "name",
    [
        "message_update",
        "message_delete",
        "message_member_join",
        "interaction_foreign_button",
        "interaction_user_command",
    ],
)
def test_edits_deletions_system_messages_and_foreign_components_are_skipped(name: str) -> None:
    assert event(name) is None


def test_an_unknown_dispatch_is_skipped() -> None:
    assert normalize("TYPING_START", {"channel_id": CHANNEL}, BOT) is None


def test_ask_becomes_command_text_with_an_interaction_origin() -> None:
    command = event("interaction_ask")
    assert isinstance(command, Command)
    assert command.text == "ask what is our refund policy?"
    assert command.event_id == "1900000000000000001"
    assert command.origin.kind is OriginKind.COMMAND
    assert command.origin.token == "itoken-1900000000000000001"
    assert command.origin.token_ttl_s == 900 and command.origin.deferred
    assert command.ref.channel_id == CHANNEL and command.ref.workspace_id == GUILD


def test_subcommands_flatten_into_the_text() -> None:
    assert event("interaction_kb_search").text == "kb search refund policy"


def test_usage_options_become_the_words_the_core_grammar_reads() -> None:
    command = event("interaction_usage")
    assert isinstance(command, Command)
    grace, ops = "1200000000000000002", "1500000000000000002"
    assert command.text == f"usage week <@{grace}> <#{ops}>"
    assert command.origin.kind is OriginKind.COMMAND and command.origin.deferred


@pytest.mark.parametrize(
    ("kept", "text", "request_"),
    [
        ((), "usage", UsageRequest()),
        (("period",), "usage month", UsageRequest(period="month")),
        (
            ("user",),
            "usage <@1200000000000000002>",
            UsageRequest(user="1200000000000000002"),
        ),
        (
            ("channel",),
            "usage <#1500000000000000002>",
            UsageRequest(channel="1500000000000000002"),
        ),
        (
            ("period", "user"),
            "usage month <@1200000000000000002>",
            UsageRequest(period="month", user="1200000000000000002"),
        ),
    ],
)
def test_each_usage_option_reads_as_its_typed_form(
    kept: tuple[str, ...], text: str, request_: UsageRequest
) -> None:
    kind, data = load("interaction_usage")
    options = [
        {**o, "value": "month"} if o["name"] == "period" else o
        for o in data["data"]["options"]
        if o["name"] in kept
    ]
    data["data"] = {**data["data"], "options": options}
    command = normalize(kind, data, BOT)
    assert isinstance(command, Command) and command.text == text
    assert parse_request(command.text.split()[1:]) == request_


def test_a_command_in_a_dm_uses_the_user_and_the_dm_channel() -> None:
    command = event("interaction_reset_dm")
    assert command.text == "reset"
    assert (
        command.ref.kind is ConversationKind.DIRECT and command.author.id == "1200000000000000001"
    )


def test_a_button_click_decodes_its_custom_id() -> None:
    click = event("interaction_button")
    assert isinstance(click, ActionClick)
    assert (click.action_id, click.value) == ("approve", "apr_01HZX")
    assert click.origin.kind is OriginKind.ACTION
    assert click.origin.message_id == "1577400000000000020"
    assert click.origin.token == "itoken-1900000000000000004" and not click.origin.deferred
