"""normalize() on captured-shape Slack payloads (tests/slack/payloads/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.normalize import BotIdentity, normalize, payload_kind, plain_text
from bot.events import Attachment, ButtonClick, Command, IncomingMessage
from bot.refs import Author, ConversationRef, MessageHandle

PAYLOADS = Path(__file__).parent / "payloads"
BOT = BotIdentity(user_id="UBOT0001", bot_id="BBOT0001")


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def ref(channel: str = "C0GENERAL", thread: str | None = None) -> ConversationRef:
    return ConversationRef(
        platform="slack", workspace_id="T0FAKE", channel_id=channel, thread_id=thread
    )


def test_app_mention_answers_in_a_new_thread_under_the_message() -> None:
    assert normalize(load("app_mention"), BOT) == IncomingMessage(
        event_id="Ev0MENTION01",
        ref=ref(thread="1715000000.000100"),
        author=Author(id="U0USER1"),
        text="what is our refund policy & who approves it?",
        mentions_bot=True,
        message_id="1715000000.000100",
    )


def test_app_mention_inside_a_thread_answers_in_that_thread() -> None:
    event = normalize(load("app_mention_in_thread"), BOT)
    assert isinstance(event, IncomingMessage)
    assert event.ref == ref(thread="1715000000.000100")
    assert event.text == "can you summarise this thread ?"
    assert event.mentions_bot and not event.is_direct


def test_dm_is_direct_and_top_level_unless_threaded() -> None:
    top = normalize(load("message_im"), BOT)
    assert top == IncomingMessage(
        event_id="Ev0DM000001",
        ref=ref("D0DIRECT"),
        author=Author(id="U0USER1"),
        text="hi, can you read this page (https://example.com/a?b=1&c=2)?",
        is_direct=True,
        message_id="1715000200.000400",
    )
    threaded = normalize(load("message_im_threaded"), BOT)
    assert isinstance(threaded, IncomingMessage)
    assert threaded.ref == ref("D0DIRECT", "1715000200.000400") and threaded.is_direct


def test_thread_reply_in_a_channel_is_passed_on_without_mention() -> None:
    event = normalize(load("thread_reply"), BOT)
    assert isinstance(event, IncomingMessage)
    assert event.ref == ref(thread="1715000000.000100")
    assert event.event_id == "Ev0REPLY0001"
    assert not event.mentions_bot and not event.is_direct


@pytest.mark.parametrize(
    "name",
    [
        "bot_message",
        "own_message",
        "message_changed",
        "message_deleted",
        "channel_message",
        "reaction_added",
        # Slack sends a channel mention twice (app_mention + message.channels): only one may answer.
        "channel_message_mention",
    ],
)
def test_never_answered(name: str) -> None:
    assert normalize(load(name), BOT) is None


def test_unknown_kinds_are_an_explicit_skip() -> None:
    assert payload_kind({"type": "view_submission"}) == "view_submission"
    assert normalize({"type": "view_submission"}, BOT) is None
    assert normalize({"type": "event_callback", "event": {"type": "team_join"}}, BOT) is None
    assert normalize({}, BOT) is None


def test_block_actions_become_a_button_click_on_the_card() -> None:
    card_ref = ref(thread="1715000000.000100")
    assert normalize(load("block_actions"), BOT) == ButtonClick(
        event_id="7100000000.1000000000.abcdef0123456789",
        ref=card_ref,
        author=Author(id="U0USER1", display_name="ada"),
        action="approve",
        approval_id="ap_7Kq2",
        message=MessageHandle(ref=card_ref, message_id="1715000020.000250"),
    )


def test_foreign_block_actions_are_skipped() -> None:
    body = load("block_actions")
    body["actions"][0]["action_id"] = "someone_elses_button"
    assert normalize(body, BOT) is None


def test_slash_command_ask() -> None:
    assert normalize(load("slash_command"), BOT) == Command(
        event_id="7100000001.1000000000.fedcba9876543210",
        ref=ref(),
        author=Author(id="U0USER1", display_name="ada"),
        name="ask",
        args=("how", "do", "refunds", "work?"),
        response_hint="https://hooks.slack.com/commands/T0FAKE/1/xyz",
    )


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("reset", "reset", ()),
        ("help", "help", ()),
        ("", "help", ()),
        ("dance", "help", ()),
        ("ask", "help", ()),
        ("KB Reindex docs", "kb", ("reindex", "docs")),
        ("kb status", "kb", ("status",)),
        ("kb search refund policy", "kb", ("search", "refund", "policy")),
        ("kb search", "help", ("kb",)),
        ("kb frobnicate", "help", ("kb",)),
        ("kb", "help", ("kb",)),
    ],
)
def test_slash_subcommands(text: str, name: str, args: tuple[str, ...]) -> None:
    body = load("slash_command") | {"text": text}
    event = normalize(body, BOT)
    assert isinstance(event, Command)
    assert (event.name, event.args) == (name, args)


def test_files_become_attachments() -> None:
    body = load("message_im")
    body["event"]["subtype"] = "file_share"
    body["event"]["files"] = [
        {
            "id": "F1",
            "name": "report.pdf",
            "mimetype": "application/pdf",
            "size": 1234,
            "url_private": "https://files.slack.com/F1",
        }
    ]
    event = normalize(body, BOT)
    assert isinstance(event, IncomingMessage)
    assert event.attachments == (
        Attachment(
            name="report.pdf",
            url="https://files.slack.com/F1",
            content_type="application/pdf",
            size=1234,
        ),
    )


def test_plain_text_makes_slack_markup_readable() -> None:
    text = "<@UBOT0001> ask <@U2|bob> in <#C9|ops> about <!here> &lt;tags&gt; <https://x.io>"
    assert plain_text(text, "UBOT0001") == "ask @bob in #ops about @here <tags> https://x.io"
