"""normalize() on captured-shape Slack payloads (tests/slack/payloads/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.normalize import BotIdentity, normalize, payload_kind, plain_text
from bot.events import ActionClick, Attachment, Command, IncomingMessage, Origin, OriginKind
from bot.refs import Author, ConversationKind, ConversationRef

PAYLOADS = Path(__file__).parent / "payloads"
BOT = BotIdentity(user_id="UBOT0001", bot_id="BBOT0001")
THREAD, CHANNEL, DIRECT = ConversationKind.THREAD, ConversationKind.CHANNEL, ConversationKind.DIRECT


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return payload


def ref(
    channel: str = "C0GENERAL", thread: str | None = None, kind: ConversationKind | None = None
) -> ConversationRef:
    return ConversationRef(
        platform="slack",
        workspace_id="T0FAKE",
        channel_id=channel,
        thread_id=thread,
        kind=kind or (THREAD if thread else CHANNEL),
    )


def said(ts: str, user: str = "U0USER1") -> Origin:
    return Origin(
        kind=OriginKind.MESSAGE,
        message_id=ts,
        token=f"recipient:{user}:T0FAKE",
        token_ttl_s=1800.0,
    )


def test_app_mention_in_a_channel_is_a_channel_message_the_core_places() -> None:
    assert normalize(load("app_mention"), BOT) == IncomingMessage(
        event_id="Ev0MENTION01",
        ref=ref(),
        author=Author(id="U0USER1"),
        text="what is our refund policy & who approves it?",
        origin=said("1715000000.000100"),
        mentions_bot=True,
    )


def test_app_mention_inside_a_thread_is_in_that_thread() -> None:
    event = normalize(load("app_mention_in_thread"), BOT)
    assert isinstance(event, IncomingMessage)
    assert event.ref == ref(thread="1715000000.000100")
    assert event.text == "can you summarise this thread ?"
    assert event.mentions_bot and not event.is_direct


def test_dm_is_direct_and_top_level_unless_threaded() -> None:
    top = normalize(load("message_im"), BOT)
    assert top == IncomingMessage(
        event_id="Ev0DM000001",
        ref=ref("D0DIRECT", kind=DIRECT),
        author=Author(id="U0USER1"),
        text="hi, can you read this page (https://example.com/a?b=1&c=2)?",
        origin=said("1715000200.000400"),
    )
    threaded = normalize(load("message_im_threaded"), BOT)
    assert isinstance(threaded, IncomingMessage)
    assert threaded.ref == ref("D0DIRECT", "1715000200.000400", DIRECT) and threaded.is_direct


def test_thread_reply_in_a_channel_is_passed_on_without_mention() -> None:
    event = normalize(load("thread_reply"), BOT)
    assert isinstance(event, IncomingMessage)
    assert event.ref == ref(thread="1715000000.000100")
    assert event.event_id == "Ev0REPLY0001"
    assert not event.mentions_bot and not event.is_direct and not event.replies_to_bot


def test_a_reply_in_a_thread_the_bot_started_replies_to_the_bot() -> None:
    body = load("thread_reply")
    body["event"]["parent_user_id"] = BOT.user_id
    event = normalize(body, BOT)
    assert isinstance(event, IncomingMessage) and event.replies_to_bot


@pytest.mark.parametrize(
    "name",
    [
        "bot_message",
        "own_message_user_id",
        "own_message_bot_id",
        "own_message_bot_profile",
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


# Each "own message" fixture carries exactly one sign that a bot wrote it, so each check counts:
# without that one sign the same message is an ordinary thread reply, and is answered.
ONE_SIGNAL = {
    "own_message_user_id": ("user", "U0USER1"),  # our bot user, no bot fields
    "own_message_bot_id": ("bot_id", None),  # our app posting with a user token
    "own_message_bot_profile": ("bot_profile", None),
}


@pytest.mark.parametrize("name", sorted(ONE_SIGNAL))
def test_each_own_message_fixture_hangs_on_one_signal(name: str) -> None:
    body = load(name)
    key, human = ONE_SIGNAL[name]
    if human is None:
        del body["event"][key]
    else:
        body["event"][key] = human
    event = normalize(body, BOT)
    assert isinstance(event, IncomingMessage) and event.author.id == "U0USER1"


def test_unknown_kinds_are_an_explicit_skip() -> None:
    assert payload_kind({"type": "view_submission"}) == "view_submission"
    assert normalize({"type": "view_submission"}, BOT) is None
    assert normalize({"type": "event_callback", "event": {"type": "team_join"}}, BOT) is None
    assert normalize({}, BOT) is None


def test_block_actions_become_a_click_on_the_card() -> None:
    assert normalize(load("block_actions"), BOT) == ActionClick(
        event_id="7100000000.1000000000.abcdef0123456789",
        ref=ref(thread="1715000000.000100"),
        author=Author(id="U0USER1", display_name="ada"),
        action_id="approve",
        value="ap_7Kq2",
        origin=Origin(
            kind=OriginKind.ACTION,
            message_id="1715000020.000250",
            token=load("block_actions").get("response_url", ""),
            token_ttl_s=1800.0 if load("block_actions").get("response_url") else 0.0,
            respond_within_s=3.0,
        ),
    )


def test_foreign_block_actions_are_skipped() -> None:
    body = load("block_actions")
    body["actions"][0]["action_id"] = "someone_elses_button"
    assert normalize(body, BOT) is None


def test_slash_command_keeps_its_text_for_the_core_grammar() -> None:
    assert normalize(load("slash_command"), BOT) == Command(
        event_id="7100000001.1000000000.fedcba9876543210",
        ref=ref(),
        author=Author(id="U0USER1", display_name="ada"),
        text="ask  how do refunds work?",
        origin=Origin(
            kind=OriginKind.COMMAND,
            token="https://hooks.slack.com/commands/T0FAKE/1/xyz",
            token_ttl_s=1800.0,
            respond_within_s=3.0,
        ),
    )


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
