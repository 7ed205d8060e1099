"""normalize() on captured-shape Teams activities (tests/teams/payloads/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.teams.normalize import (
    conversation_id,
    decode_action,
    encode_action,
    is_bot_installed,
    normalize,
)
from bot.events import ActionClick, IncomingMessage, OriginKind
from bot.refs import ConversationKind

PAYLOADS = Path(__file__).parent / "payloads"
CHANNEL = "19:ae6d2a4b7c0e4b5f9b3e1c2d3f4a5b6c@thread.tacv2"
ADA_AAD = "6b3ffd1e-2b6f-4c8a-9a8e-3a1f3e7c9d10"


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((PAYLOADS / name).read_text())
    return payload


def message(name: str) -> IncomingMessage:
    event = normalize(load(name))
    assert isinstance(event, IncomingMessage), event
    return event


def test_channel_mention_is_a_new_post_with_the_mention_stripped() -> None:
    event = message("channel_mention.json")
    assert event.text == "how do refunds work?"
    assert event.mentions_bot
    assert event.ref.kind is ConversationKind.CHANNEL
    assert (event.ref.channel_id, event.ref.thread_id) == (CHANNEL, None)
    assert event.ref.workspace_id == "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert event.ref.route == "https://smba.trafficmanager.net/emea/"
    assert event.event_id == event.origin.message_id == "1733061731551"
    assert event.origin.kind is OriginKind.MESSAGE
    assert event.author.id == ADA_AAD and event.author.display_name == "Ada Lovelace"
    assert event.origin.token.startswith("29:")  # the account a 1:1 chat needs
    assert not event.author.is_bot


def test_the_answer_to_a_new_post_goes_to_its_reply_chain() -> None:
    event = message("channel_mention.json")
    assert conversation_id(event.ref.in_thread(event.origin.message_id)) == (
        f"{CHANNEL};messageid=1733061731551"
    )


def test_reply_in_a_chain_is_a_thread_and_other_mentions_keep_their_name() -> None:
    event = message("channel_reply_mention.json")
    assert event.ref.kind is ConversationKind.THREAD
    assert event.ref.thread_id == "1733061731551"
    assert conversation_id(event.ref) == f"{CHANNEL};messageid=1733061731551"
    assert event.text == "and for @Grace Hopper?"


def test_unmentioned_reply_goes_to_the_core_for_the_follow_up_decision() -> None:
    event = message("channel_reply_no_mention.json")
    assert not event.mentions_bot
    assert event.ref.kind is ConversationKind.THREAD


@pytest.mark.parametrize("name", ["channel_post_no_mention.json", "group_no_mention.json"])
def test_unmentioned_new_posts_and_group_messages_are_skipped(name: str) -> None:
    assert normalize(load(name)) is None


def test_group_chat_mention() -> None:
    event = message("group_mention.json")
    assert event.ref.kind is ConversationKind.GROUP
    assert event.ref.channel_id == "19:8f3d7c1b0e2a4c6f9d5b3a1e7c9f2d4b@thread.v2"
    assert event.text == "summarize the onboarding doc"
    assert conversation_id(event.ref) == event.ref.channel_id


def test_personal_chat_is_direct_without_a_mention() -> None:
    event = message("personal.json")
    assert event.ref.kind is ConversationKind.DIRECT
    assert event.text == "What is our VPN policy?"
    assert not event.mentions_bot


def test_other_bots_are_marked() -> None:
    assert message("other_bot.json").author.is_bot


@pytest.mark.parametrize(
    "name",
    [
        "message_update.json",
        "invoke_task_fetch.json",
        "conversation_update_install.json",
        "conversation_update_member.json",
    ],
)
def test_edits_other_invokes_and_membership_changes_are_not_core_events(name: str) -> None:
    assert normalize(load(name)) is None


def test_install_is_recognised_only_when_the_bot_is_added() -> None:
    assert is_bot_installed(load("conversation_update_install.json"))
    assert not is_bot_installed(load("conversation_update_member.json"))
    assert not is_bot_installed(load("personal.json"))


def test_action_execute_invoke_is_a_click_on_the_card() -> None:
    event = normalize(load("invoke_execute.json"))
    assert isinstance(event, ActionClick)
    assert (event.action_id, event.value) == ("approve", "f43d5f54776e837c")
    assert event.origin.kind is OriginKind.ACTION
    assert event.origin.message_id == "1733061745123"
    assert event.origin.respond_within_s == 5.0
    assert event.ref.kind is ConversationKind.THREAD
    assert event.author.id == ADA_AAD


def test_action_submit_fallback_is_the_same_click() -> None:
    event = normalize(load("submit_fallback.json"))
    assert isinstance(event, ActionClick)
    assert (event.action_id, event.value) == ("deny", "f43d5f54776e837c")
    assert event.origin.message_id == "1733061745999"
    assert event.origin.respond_within_s == 0.0


def test_foreign_action_data_is_skipped() -> None:
    activity = load("invoke_execute.json")
    activity["value"]["action"]["data"] = {"parley": "approve:x"}
    assert normalize(activity) is None
    activity["value"]["action"]["data"] = "parley:approve:x"
    assert normalize(activity) is None


def test_action_codec_round_trips() -> None:
    raw = encode_action("approve", "f43d5f54776e837c")
    assert raw == "parley:approve:f43d5f54776e837c"
    assert decode_action(raw) == ("approve", "f43d5f54776e837c")
    assert decode_action("parley:cancel:") == ("cancel", "")
    assert decode_action("parley:") is None
    assert decode_action("other:approve:x") is None
