"""The Teams transport with the real botbuilder CloudAdapter and ConnectorClient against the fake
Bot Connector: inbound activities reach the sink, clicks are answered in the invoke response,
posts / edits / streams land where Teams would show them, and its refusals come back typed."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from adapters.teams.auth import TeamsAuth
from adapters.teams.normalize import conversation_id
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.events import ActionClick, ActionResult, IncomingMessage
from bot.messages import Action, OutgoingMessage
from bot.refs import ConversationKind, ConversationRef
from tests.fakes.teams_connector import FakeConnector
from tests.teams.conftest import Rig, start_rig, stop_rig


async def test_a_channel_mention_reaches_the_sink_and_the_request_is_acknowledged(rig: Rig) -> None:
    channel = rig.fake.channel()
    activity = rig.fake.inbound(channel, "how do refunds work?", mention=True)
    status, _ = await rig.post(activity)
    assert status == 201
    await rig.wait_for(lambda: len(rig.events) == 1)
    event = rig.events[0]
    assert isinstance(event, IncomingMessage)
    assert event.text == "how do refunds work?" and event.mentions_bot
    assert event.ref.kind is ConversationKind.CHANNEL and event.ref.thread_id is None
    assert event.ref.route == rig.fake.service_url


async def test_install_gets_one_welcome_and_no_core_event(rig: Rig) -> None:
    chat = rig.fake.personal_chat()
    status, _ = await rig.post(rig.fake.conversation_update(chat))
    assert status == 201
    (welcome,) = rig.fake.written(chat.id)
    assert "Parley" in welcome.text and "help" in welcome.text
    assert rig.events == []


async def test_bad_requests_are_refused_before_the_sink(rig: Rig) -> None:
    async with rig.session.post(
        rig.url, data="not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
    async with rig.session.post(rig.url, data="x", headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    status, _ = await rig.post({"text": "no type"})
    assert status == 400
    assert rig.events == []


async def test_unknown_invokes_are_answered_not_implemented(rig: Rig) -> None:
    chat = rig.fake.personal_chat()
    activity = rig.fake.invoke_action(chat, "1", {})
    activity["name"] = "task/fetch"
    status, _ = await rig.post(activity)
    assert status == 501


async def test_action_execute_is_answered_with_the_refreshed_card(rig: Rig) -> None:
    chat = rig.fake.group_chat()
    rig.result = ActionResult(update=OutgoingMessage.text("**✅ Approved by Ada Lovelace**"))
    status, body = await rig.post(
        rig.fake.invoke_action(chat, "1700000000001", {"parley": "parley:approve:abc123"})
    )
    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["body"][0]["text"] == "**✅ Approved by Ada Lovelace**"
    assert "actions" not in body["value"]
    (click,) = rig.events
    assert isinstance(click, ActionClick)
    assert (click.action_id, click.value, click.origin.message_id) == (
        "approve",
        "abc123",
        "1700000000001",
    )


async def test_a_refused_click_shows_a_note_to_the_clicker(rig: Rig) -> None:
    chat = rig.fake.group_chat()
    rig.result = ActionResult(private=OutgoingMessage.text("Only Grace or an admin can decide."))
    status, body = await rig.post(rig.fake.invoke_action(chat, "1", {"parley": "parley:deny:x"}))
    assert status == 200
    assert body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": "Only Grace or an admin can decide.",
    }


async def test_a_slow_click_answers_in_time_and_edits_the_card_later(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adapters.teams.adapter as module

    monkeypatch.setattr(module, "INVOKE_BUDGET_S", 0.1)
    chat = rig.fake.group_chat()
    card = await rig.adapter.send(ref_of(rig, chat), approval())
    rig.delay_s = 0.5
    rig.result = ActionResult(update=OutgoingMessage.text("Approved"))
    status, body = await rig.post(
        rig.fake.invoke_action(chat, card.message_id, {"parley": "parley:approve:x"})
    )
    assert status == 200 and body["value"] == "Working on it…"
    stored = rig.fake.activities[card.message_id]
    await rig.wait_for(lambda: len(stored.texts) == 2)
    assert stored.attachments[0]["content"]["body"][0]["text"] == "Approved"


async def test_action_submit_fallback_edits_the_card_itself(rig: Rig) -> None:
    chat = rig.fake.group_chat()
    card = await rig.adapter.send(ref_of(rig, chat), approval())
    rig.result = ActionResult(update=OutgoingMessage.text("Denied by Ada"))
    status, _ = await rig.post(
        rig.fake.submit_action(chat, card.message_id, {"parley": "parley:deny:x"})
    )
    assert status == 201
    stored = rig.fake.activities[card.message_id]
    await rig.wait_for(lambda: len(stored.texts) == 2)
    content = stored.attachments[0]["content"]
    assert content["body"][0]["text"] == "Denied by Ada" and "actions" not in content


def approval() -> OutgoingMessage:
    return OutgoingMessage(
        text_markdown="Approve?",
        actions=(
            Action(id="approve", label="Approve", value="x"),
            Action(id="deny", label="Deny", value="x"),
        ),
    )


def ref_of(rig: Rig, conversation, *, thread: str | None = None) -> ConversationRef:
    kind = {
        "personal": ConversationKind.DIRECT,
        "groupChat": ConversationKind.GROUP,
        "channel": ConversationKind.THREAD if thread else ConversationKind.CHANNEL,
    }[conversation.kind]
    return ConversationRef(
        platform="teams",
        workspace_id="tenant",
        channel_id=conversation.channel_id or conversation.id,
        thread_id=thread,
        kind=kind,
        route=rig.fake.service_url,
    )


async def test_send_and_edit_in_a_reply_chain_with_only_the_ref(rig: Rig) -> None:
    channel = rig.fake.channel()
    chain = rig.fake.reply_chain(channel, "1733061731551")
    ref = ref_of(rig, channel, thread="1733061731551")
    assert conversation_id(ref) == chain.id
    handle = await rig.adapter.send(ref, OutgoingMessage.text("Refunds take **5 days**."))
    await rig.adapter.edit(handle, OutgoingMessage.text("Refunds take **5 business days**."))
    (activity,) = rig.fake.written(chain.id)
    assert activity.texts == [
        "<p>Refunds take <strong>5 days</strong>.</p>",
        "<p>Refunds take <strong>5 business days</strong>.</p>",
    ]
    assert activity.entities[0]["additionalType"] == ["AIGeneratedContent"]


async def test_a_ref_without_its_service_url_is_a_clear_error(rig: Rig) -> None:
    chat = rig.fake.personal_chat()
    ref = dataclasses.replace(ref_of(rig, chat), route="")
    with pytest.raises(PlatformError, match="serviceUrl"):
        await rig.adapter.send(ref, OutgoingMessage.text("hi"))


async def test_the_eighth_write_in_a_second_is_rate_limited_with_retry_after(rig: Rig) -> None:
    chat = rig.fake.group_chat()
    ref = ref_of(rig, chat)
    for n in range(7):
        await rig.adapter.send(ref, OutgoingMessage.text(f"m{n}"))
    with pytest.raises(RateLimited) as raised:
        await rig.adapter.send(ref, OutgoingMessage.text("one too many"))
    assert 0 < raised.value.retry_after <= 1.0
    assert len(rig.fake.written(chat.id)) == 7


async def test_over_the_size_limit_is_message_too_long(fake_connector: FakeConnector) -> None:
    rig, runner = await start_rig(fake_connector, TeamsAuth(allow_anonymous=True), max_bytes=2_000)
    try:
        ref = ref_of(rig, rig.fake.personal_chat())
        with pytest.raises(MessageTooLong) as local:
            await rig.adapter.send(ref, OutgoingMessage.text("x" * 3_000))
        assert local.value.limit is not None and local.value.limit < 3_000
        assert rig.fake.calls == []  # refused before it was sent
        rig.adapter.connector.max_bytes = 1_000_000
        rig.fake.max_body_bytes = 2_000
        with pytest.raises(MessageTooLong):  # the Connector's own 413
            await rig.adapter.send(ref, OutgoingMessage.text("x" * 3_000))
        assert rig.fake.calls[-1].status == 413
    finally:
        await stop_rig(rig, runner)


@pytest.mark.parametrize("extra", [-1, 0, 1])
async def test_body_size_limit_is_exact(fake_connector: FakeConnector, extra: int) -> None:
    rig, runner = await start_rig(fake_connector, TeamsAuth(allow_anonymous=True))
    try:
        ref = ref_of(rig, rig.fake.personal_chat())
        await rig.adapter.send(ref, OutgoingMessage.text("x"))
        size = len(json.dumps(rig.fake.calls[-1].body, ensure_ascii=False).encode())
        rig.adapter.connector.max_bytes = size + 999 - extra  # a text 999 chars longer
        if extra > 0:
            with pytest.raises(MessageTooLong):
                await rig.adapter.send(ref, OutgoingMessage.text("x" * 1000))
        else:
            await rig.adapter.send(ref, OutgoingMessage.text("x" * 1000))
    finally:
        await stop_rig(rig, runner)


async def test_private_note_in_a_channel_goes_to_a_one_to_one_chat(rig: Rig) -> None:
    channel = rig.fake.channel()
    activity = rig.fake.inbound(channel, "hi", mention=True)
    await rig.post(activity)
    await rig.wait_for(lambda: len(rig.events) == 1)
    event = rig.events[0]
    await rig.adapter.send_private(
        event.ref, event.author.id, OutgoingMessage.text("only you"), origin=event.origin
    )
    (create,) = rig.fake.calls_to("create")
    assert create.body["members"] == [{"id": activity["from"]["id"]}]
    chat = next(c for c in rig.fake.conversations.values() if c.kind == "personal")
    assert [a.text for a in rig.fake.written(chat.id)] == ["<p>only you</p>"]


async def test_typing_is_a_typing_activity(rig: Rig) -> None:
    chat = rig.fake.personal_chat()
    await rig.adapter.typing(ref_of(rig, chat))
    (call,) = rig.fake.calls
    assert call.body["type"] == "typing" and call.status == 201


async def test_native_stream_only_in_personal_chats(rig: Rig) -> None:
    assert await rig.adapter.open_native_stream(ref_of(rig, rig.fake.group_chat()), None) is None
    chat = rig.fake.personal_chat()
    stream = await rig.adapter.open_native_stream(ref_of(rig, chat), None)
    assert stream is not None
    rig.fake.stream_interval_s = 0.0
    await stream.set_status("Searching the knowledge base…")
    await stream.append("Refunds take ")
    await stream.append("5 days [1].")
    handle = await stream.finish(OutgoingMessage.text("Refunds take 5 days [1]."))
    (s,) = rig.fake.streams.values()
    assert [c["entities"][0]["streamSequence"] for c in s.chunks] == [1, 2, 3]
    assert [c["entities"][0]["streamType"] for c in s.chunks] == [
        "informative",
        "streaming",
        "streaming",
    ]
    assert s.chunks[2]["text"] == "<p>Refunds take 5 days [1].</p>"
    assert handle is not None and handle.message_id == s.id
    final = rig.fake.activities[s.id]
    assert final.text == "<p>Refunds take 5 days [1].</p>"
    assert {e["type"] for e in final.entities} == {"streaminfo", "https://schema.org/Message"}


async def test_stream_chunks_faster_than_once_a_second_are_429(rig: Rig) -> None:
    chat = rig.fake.personal_chat()
    stream = await rig.adapter.open_native_stream(ref_of(rig, chat), None)
    assert stream is not None
    await stream.append("a")
    with pytest.raises(RateLimited):
        await stream.append("b")


async def test_stream_past_the_cap_raises_before_calling(fake_connector: FakeConnector) -> None:
    clock = [0.0]
    rig, runner = await start_rig(
        fake_connector, TeamsAuth(allow_anonymous=True), now=lambda: clock[0]
    )
    try:
        chat = rig.fake.personal_chat()
        stream = await rig.adapter.open_native_stream(ref_of(rig, chat), None)
        assert stream is not None
        await stream.append("a")
        calls = len(rig.fake.calls)
        clock[0] = 115.0
        with pytest.raises(PlatformError) as raised:
            await stream.finish(OutgoingMessage.text("a and more"))
        assert raised.value.code == "stream_cap" and len(rig.fake.calls) == calls
    finally:
        await stop_rig(rig, runner)


async def test_the_connector_refuses_a_stream_past_two_minutes_with_403(rig: Rig) -> None:
    rig.fake.stream_cap_s = 0.2
    chat = rig.fake.personal_chat()
    stream = await rig.adapter.open_native_stream(ref_of(rig, chat), None)
    assert stream is not None
    await stream.append("a")
    await asyncio.sleep(0.3)
    with pytest.raises(PlatformError) as raised:
        await stream.finish(OutgoingMessage.text("a"))
    assert raised.value.code == "ContentStreamHasExceededMaxAllowedTime"
    assert rig.fake.calls[-1].status == 403


async def test_an_activity_with_wrong_field_types_is_a_400(rig: Rig) -> None:
    status, _ = await rig.post({"type": "message", "entities": "not a list", "timestamp": 5})
    assert status == 400
