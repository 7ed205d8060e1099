"""SlackAdapter against the fake Web API (real slack_sdk client) and signed HTTP requests."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Any

import pytest

from adapters.slack import create_adapter
from adapters.slack.adapter import SlackAdapter, slack_capabilities
from adapters.slack.normalize import normalize
from bot.adapter import (
    Adapter,
    HttpMounted,
    NativeStreaming,
    ThreadMessage,
    ThreadProbe,
    ThreadReader,
)
from bot.capabilities import Op, Placement, RateScope
from bot.delivery import Delivery
from bot.errors import ConfigError, MessageTooLong, PlatformError, RateLimited
from bot.events import ActionClick, Command, IncomingMessage, Origin, OriginKind
from bot.messages import Action, OutgoingMessage
from bot.refs import ConversationKind, ConversationRef
from bot.settings import Settings
from tests.fakes.slack_api import (
    DEFAULT_APP_TOKEN,
    FakeSlackApi,
    block_actions_payload,
    event_envelope,
    message_event,
    slash_command_form,
)
from tests.slack.conftest import SECRET, Rig


def ref(channel: str = "C0GENERAL", thread: str | None = None) -> ConversationRef:
    kind = (
        ConversationKind.DIRECT
        if channel.startswith("D")
        else ConversationKind.THREAD
        if thread
        else ConversationKind.CHANNEL
    )
    return ConversationRef(
        platform="slack", workspace_id="T0FAKE", channel_id=channel, thread_id=thread, kind=kind
    )


COMMAND = Origin(kind=OriginKind.COMMAND)


# --- factory and protocols ------------------------------------------------------------------


def test_create_adapter_from_settings() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-1",
        slack_signing_secret="s",
        slack_api_url="http://127.0.0.1:9/api",
    )
    adapter = create_adapter(settings)
    assert isinstance(adapter, Adapter) and isinstance(adapter, HttpMounted)
    assert isinstance(adapter, ThreadReader) and isinstance(adapter, ThreadProbe)
    assert not isinstance(adapter, NativeStreaming)
    caps = adapter.capabilities
    assert caps.max_edit_chars == 3900 and caps.channel_reply is Placement.THREAD
    # Each Slack limit is its own budget: posts per channel, chat.update per workspace, …
    (posts,) = caps.limits_for(Op.POST)
    (edits,) = caps.limits_for(Op.EDIT)
    (appends,) = caps.limits_for(Op.STREAM)
    assert (posts.scope, posts.calls, posts.window_s, posts.burst) == (RateScope.CHANNEL, 1, 1.0, 3)
    assert (edits.scope, edits.calls, edits.window_s) == (RateScope.WORKSPACE, 50, 60.0)
    assert (appends.scope, appends.calls, appends.window_s) == (RateScope.WORKSPACE, 100, 60.0)
    assert caps.buttons and caps.ephemeral and not caps.native_stream
    assert not adapter.socket_mode


def test_native_streaming_and_socket_mode_follow_settings() -> None:
    settings = Settings(
        _env_file=None,
        slack_bot_token="xoxb-1",
        slack_app_token="xapp-1",
        slack_native_streaming=True,
    )
    adapter = create_adapter(settings)
    assert adapter.socket_mode and isinstance(adapter, NativeStreaming)
    assert adapter.capabilities.native_stream == {ConversationKind.THREAD, ConversationKind.DIRECT}


def test_missing_secret_says_how_to_fix() -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        create_adapter(Settings(_env_file=None, slack_bot_token="xoxb-1"))


async def test_wrong_token_fails_at_start(fake_slack: FakeSlackApi) -> None:
    adapter = SlackAdapter(
        bot_token="xoxb-wrong", signing_secret=SECRET, api_url=fake_slack.api_url
    )

    async def sink(event: object) -> None: ...

    with pytest.raises(PlatformError) as info:
        await adapter.start(sink)
    assert (info.value.method, info.value.code) == ("auth.test", "invalid_auth")
    await adapter.stop()


# --- outbound -------------------------------------------------------------------------------


async def test_send_posts_in_the_thread_and_edit_updates(rig: Rig) -> None:
    handle = await rig.adapter.send(
        ref(thread="1715000000.000100"), OutgoingMessage.text("…", final=False)
    )
    message = rig.fake.find("C0GENERAL", handle.message_id)
    assert message is not None and message.thread_ts == "1715000000.000100"
    await rig.adapter.edit(handle, OutgoingMessage.text("**Done**"))
    assert message.text == "*Done*" and message.edits == ["…", "*Done*"]
    post = rig.fake.calls_to("chat.postMessage")[0]
    assert post.args["unfurl_links"] is False


async def test_edit_clears_buttons_once_decided(rig: Rig) -> None:
    card = OutgoingMessage(
        text_markdown="Run it?",
        actions=(
            Action(id="approve", label="Approve", value="ap1"),
            Action(id="deny", label="Deny", value="ap1"),
        ),
    )
    handle = await rig.adapter.send(ref(), card)
    message = rig.fake.find("C0GENERAL", handle.message_id)
    assert message is not None and message.blocks[-1]["type"] == "actions"
    await rig.adapter.edit(handle, OutgoingMessage.text("Approved by <@U1>"))
    assert message.blocks == []


async def test_channel_not_found_is_a_platform_error(rig: Rig) -> None:
    rig.fake.missing_channels.add("C0GONE")
    with pytest.raises(PlatformError) as info:
        await rig.adapter.send(ref("C0GONE"), OutgoingMessage.text("hi"))
    assert (info.value.method, info.value.code) == ("chat.postMessage", "channel_not_found")
    assert not isinstance(info.value, RateLimited | MessageTooLong)


async def test_update_budget_429_becomes_rate_limited_with_retry_after(rig: Rig) -> None:
    rig.fake.configure(update_limit=3, update_window_s=0.5)
    handle = await rig.adapter.send(ref(), OutgoingMessage.text("…"))
    for i in range(3):
        await rig.adapter.edit(handle, OutgoingMessage.text(f"v{i}"))
    with pytest.raises(RateLimited) as info:
        await rig.adapter.edit(handle, OutgoingMessage.text("v3"))
    assert info.value.method == "chat.update"
    assert 0 < info.value.retry_after <= 0.5
    await asyncio.sleep(info.value.retry_after)
    await rig.adapter.edit(handle, OutgoingMessage.text("v3"))
    assert len(rig.fake.rate_limited) == 1


async def test_msg_too_long_from_slack_becomes_message_too_long(rig: Rig) -> None:
    handle = await rig.adapter.send(ref(), OutgoingMessage.text("…"))
    rig.fake.fail_next("chat.update", "msg_too_long")
    with pytest.raises(MessageTooLong) as info:
        await rig.adapter.edit(handle, OutgoingMessage.text("x" * 3000))
    assert info.value.method == "chat.update" and info.value.length == 3000


@pytest.mark.parametrize(("length", "fits"), [(3999, True), (4000, True), (4001, False)])
async def test_text_limit_is_checked_on_the_rendered_text(
    rig: Rig, length: int, fits: bool
) -> None:
    handle = await rig.adapter.send(ref(), OutgoingMessage.text("…"))
    # Escaping grows text: "<" becomes "&lt;" (4 chars), so check after rendering.
    text = "<" * ((length - 1) // 4) + "x" * ((length - 1) % 4 + 1)
    if fits:
        await rig.adapter.edit(handle, OutgoingMessage.text(text))
    else:
        with pytest.raises(MessageTooLong):
            await rig.adapter.edit(handle, OutgoingMessage.text(text))
        assert len(rig.fake.calls_to("chat.update")) == 0


async def test_posts_are_paced_per_channel(fake_slack: FakeSlackApi) -> None:
    """The adapter declares the pace; the delivery engine keeps it for every post."""
    fake_slack.configure(post_interval_s=0.2, post_burst=3)
    adapter = SlackAdapter(
        bot_token=fake_slack.token,
        signing_secret=SECRET,
        api_url=fake_slack.api_url,
        capabilities=slack_capabilities(time_scale=0.2),
    )
    delivery = Delivery(adapter)

    async def sink(event: object) -> None: ...

    await adapter.start(sink)
    started = time.monotonic()
    await asyncio.gather(*(delivery.post(ref(), OutgoingMessage.text(f"m{i}")) for i in range(5)))
    assert not fake_slack.rate_limited
    assert time.monotonic() - started >= 0.39  # 3 at once, then one each 0.2 s
    await adapter.stop()


async def test_send_private_uses_ephemeral_or_the_response_url(rig: Rig) -> None:
    await rig.adapter.send_private(
        ref(), "U0USER1", OutgoingMessage.text("only you"), origin=COMMAND
    )
    assert rig.fake.ephemerals[-1]["user"] == "U0USER1"
    assert rig.fake.ephemerals[-1]["text"] == "only you"
    url = rig.fake.new_response_url()
    through = Origin(kind=OriginKind.COMMAND, token=url, token_ttl_s=1800.0)
    await rig.adapter.send_private(
        ref(), "U0USER1", OutgoingMessage.text("**done**"), origin=through
    )
    assert rig.fake.responses[-1] == {"text": "*done*", "response_type": "ephemeral"}
    dead = dataclasses.replace(through, token=url.replace("/response/R", "/response/X"))
    with pytest.raises(PlatformError) as info:
        await rig.adapter.send_private(ref(), "U0USER1", OutgoingMessage.text("x"), origin=dead)
    assert info.value.method == "response_url"


async def test_read_thread_once_to_seed_memory(rig: Rig) -> None:
    parent = rig.fake.user_message("C0GENERAL", "How do refunds work?")
    rig.fake.user_message(
        "C0GENERAL", "Within 14 days I think", user="U0USER2", thread_ts=parent.ts
    )
    await rig.adapter.send(ref(thread=parent.ts), OutgoingMessage.text("Refunds take 5 days."))
    summoned = rig.fake.user_message("C0GENERAL", "<@UBOT0001> summarise", thread_ts=parent.ts)
    rig.fake.user_message("C0GENERAL", "written after", thread_ts=parent.ts)
    thread = ref(thread=parent.ts)
    seeded = await rig.adapter.read_thread(thread, before=summoned.ts, limit=10)
    assert [(m.author.id, m.text, m.from_bot) for m in seeded] == [
        ("U0USER1", "How do refunds work?", False),
        ("U0USER2", "Within 14 days I think", False),
        ("UBOT0001", "Refunds take 5 days.", True),
    ]
    assert all(isinstance(m, ThreadMessage) for m in seeded)
    assert len(await rig.adapter.read_thread(thread, before=summoned.ts, limit=2)) == 2


# --- native streaming -----------------------------------------------------------------------


async def native_adapter(fake: FakeSlackApi) -> SlackAdapter:
    adapter = SlackAdapter(
        bot_token=fake.token,
        signing_secret=SECRET,
        api_url=fake.api_url,
        native_streaming=True,
    )

    async def sink(event: object) -> None: ...

    await adapter.start(sink)
    return adapter


async def test_native_stream_in_a_dm_thread(fake_slack: FakeSlackApi) -> None:
    adapter = await native_adapter(fake_slack)
    assert await adapter.open_native_stream(ref("D0DIRECT"), None) is None  # top level
    stream = await adapter.open_native_stream(ref("D0DIRECT", "1.1"), None)
    assert stream is not None
    await stream.append("Hello ")
    await stream.append("**world**")
    handle = await stream.finish(
        OutgoingMessage(
            text_markdown="Hello **world**",
            actions=(Action(id="approve", label="Approve", value="ap9"),),
        )
    )
    message = fake_slack.find("D0DIRECT", handle.message_id)
    assert message is not None and message.text == "Hello **world**"  # Markdown, Slack renders it
    assert message.blocks[0]["type"] == "actions" and not message.streaming
    await adapter.stop()


async def test_native_stream_final_that_does_not_continue_replaces_the_message(
    fake_slack: FakeSlackApi,
) -> None:
    adapter = await native_adapter(fake_slack)
    stream = await adapter.open_native_stream(ref("D0DIRECT", "1.1"), None)
    assert stream is not None
    await stream.append("Draft answer")
    handle = await stream.finish(OutgoingMessage.text("**Final** answer"))
    message = fake_slack.find("D0DIRECT", handle.message_id)
    assert message is not None and message.text == "*Final* answer" and not message.streaming
    assert [c.method for c in fake_slack.calls][-2:] == ["chat.stopStream", "chat.update"]
    await adapter.stop()


async def test_native_stream_in_a_channel_needs_the_recipient(
    rig: Rig, fake_slack: FakeSlackApi
) -> None:
    adapter = await native_adapter(fake_slack)
    thread = ref(thread="1715000000.000100")
    assert await adapter.open_native_stream(thread, None) is None  # recipient unknown
    parent = fake_slack.user_message("C0GENERAL", "<@UBOT0001> hi")
    asked = normalize(event_envelope(message_event(parent, kind="app_mention")), adapter.bot)
    assert isinstance(asked, IncomingMessage)  # the recipient travels on the event's origin
    stream = await adapter.open_native_stream(ref(thread=parent.ts), asked.origin)
    assert stream is not None
    start = fake_slack.calls_to("chat.startStream")[-1].args
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U0USER1", "T0FAKE")
    fake_slack.configure(stream_ttl_s=0.0)  # the stream expires: the caller must fall back
    with pytest.raises(PlatformError) as info:
        await stream.append("late")
    assert info.value.code == "message_not_in_streaming_state"
    await adapter.stop()


# --- inbound: signatures, ack, hand-off -----------------------------------------------------


def mention(rig: Rig, text: str = "<@UBOT0001> hello") -> dict[str, Any]:
    message = rig.fake.user_message("C0GENERAL", text)
    return event_envelope(message_event(message, kind="app_mention"))


async def test_signed_event_is_acked_and_handed_to_the_sink(rig: Rig) -> None:
    status, _ = await rig.sender.event(mention(rig))
    assert status == 200
    await rig.wait_for(lambda: len(rig.events) == 1)
    event = rig.events[0]
    assert isinstance(event, IncomingMessage) and event.text == "hello" and event.mentions_bot


@pytest.mark.parametrize("tamper", ["bad_secret", "stale", "no_signature"])
async def test_bad_or_stale_signature_is_refused(rig: Rig, tamper: str) -> None:
    envelope = mention(rig)
    if tamper == "bad_secret":
        status, _ = await rig.sender.event(envelope, secret="not-the-secret")
    elif tamper == "stale":
        status, _ = await rig.sender.event(envelope, timestamp=int(time.time()) - 6 * 60)
    else:
        session = rig.sender._session
        assert session is not None
        async with session.post(
            rig.sender.url,
            data=json.dumps(envelope),
            headers={"Content-Type": "application/json"},
        ) as r:
            status = r.status
    assert status == 401
    await asyncio.sleep(0.1)
    assert rig.events == []


async def test_url_verification_challenge(rig: Rig) -> None:
    status, body = await rig.sender.event(
        {"type": "url_verification", "challenge": "abc123", "token": "t"}
    )
    assert status == 200 and "abc123" in body


async def test_ack_does_not_wait_for_the_work(rig: Rig) -> None:
    release = asyncio.Event()

    async def slow_sink(event: object) -> None:
        await release.wait()

    rig.adapter._sink = slow_sink
    started = time.monotonic()
    status, _ = await rig.sender.event(mention(rig))
    assert status == 200 and time.monotonic() - started < 1.0
    assert len(rig.adapter._tasks) == 1  # the work goes on, referenced
    release.set()
    await rig.wait_for(lambda: not rig.adapter._tasks)


async def test_retries_carry_the_same_event_id(rig: Rig) -> None:
    envelope = mention(rig)
    for retry in (None, 1, 2, 3):
        assert (await rig.sender.event(envelope, retry_num=retry))[0] == 200
    await rig.wait_for(lambda: len(rig.events) == 4)
    assert {e.event_id for e in rig.events} == {envelope["event_id"]}  # the core dedupes


async def test_slash_command_ack_and_command(rig: Rig) -> None:
    url = rig.fake.new_response_url()
    status, body = await rig.sender.command(
        slash_command_form("ask what is parley", response_url=url)
    )
    assert status == 200 and json.loads(body)["response_type"] == "in_channel"
    status, body = await rig.sender.command(slash_command_form("reset", response_url=url))
    assert status == 200 and body == ""
    await rig.wait_for(lambda: len(rig.events) == 2)
    ask, reset = rig.events
    assert isinstance(ask, Command) and ask.text == "ask what is parley"
    assert isinstance(reset, Command) and reset.origin.token == url


async def test_button_click_is_normalized(rig: Rig) -> None:
    status, _ = await rig.sender.action(
        block_actions_payload(
            "deny", "ap_42", channel="C0GENERAL", message_ts="1.2", thread_ts="1.1"
        )
    )
    assert status == 200
    await rig.wait_for(lambda: len(rig.events) == 1)
    click = rig.events[0]
    assert isinstance(click, ActionClick) and (click.action_id, click.value) == ("deny", "ap_42")
    assert click.ref == ref(thread="1.1") and click.origin.message_id == "1.2"


# --- follow-ups -----------------------------------------------------------------------------


async def reply_in(rig: Rig, thread_ts: str, text: str = "and annual plans?") -> None:
    message = rig.fake.user_message("C0GENERAL", text, thread_ts=thread_ts)
    await rig.sender.event(event_envelope(message_event(message)))


async def test_thread_replies_are_passed_on_for_the_core_to_judge(rig: Rig) -> None:
    parent = rig.fake.user_message("C0GENERAL", "lunch?")
    await reply_in(rig, parent.ts, "pizza")
    await rig.wait_for(lambda: len(rig.events) == 1)
    reply = rig.events[0]
    assert isinstance(reply, IncomingMessage) and not reply.mentions_bot
    assert reply.ref == ref(thread=parent.ts)


async def test_bot_in_thread_asks_slack_once(rig: Rig) -> None:
    parent = rig.fake.user_message("C0GENERAL", "<@UBOT0001> refunds?")
    await rig.adapter.send(ref(thread=parent.ts), OutgoingMessage.text("5 days."))
    other = rig.fake.user_message("C0GENERAL", "lunch?")
    rig.fake.user_message("C0GENERAL", "pizza", thread_ts=other.ts)
    assert await rig.adapter.bot_in_thread(ref(thread=parent.ts))
    assert not await rig.adapter.bot_in_thread(ref(thread=other.ts))
    assert len(rig.fake.calls_to("conversations.replies")) == 2


# --- Socket Mode ----------------------------------------------------------------------------


async def test_socket_mode_receives_acks_and_hands_off(fake_slack: FakeSlackApi) -> None:
    adapter = SlackAdapter(
        bot_token=fake_slack.token,
        app_token=DEFAULT_APP_TOKEN,
        api_url=fake_slack.api_url,
    )
    events: list[object] = []

    async def sink(event: object) -> None:
        events.append(event)

    await adapter.start(sink)
    try:
        await fake_slack.socket_connected()
        message = fake_slack.user_message("C0GENERAL", "<@UBOT0001> over the socket")
        event_env = await fake_slack.socket_push(
            "events_api", event_envelope(message_event(message, kind="app_mention"))
        )
        command_env = await fake_slack.socket_push(
            "slash_commands",
            slash_command_form("kb status", response_url=fake_slack.new_response_url()),
        )
        async with asyncio.timeout(5):
            while len(events) < 2 or len(fake_slack.socket_acks) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert {event_env, command_env} <= set(fake_slack.socket_acks)
        kinds = sorted(type(e).__name__ for e in events)
        assert kinds == ["Command", "IncomingMessage"]
    finally:
        await adapter.stop()


async def test_socket_mode_with_a_bad_app_token_fails_loudly(fake_slack: FakeSlackApi) -> None:
    adapter = SlackAdapter(
        bot_token=fake_slack.token, app_token="xapp-wrong", api_url=fake_slack.api_url
    )

    async def sink(event: object) -> None: ...

    with pytest.raises(PlatformError) as info:
        await adapter.start(sink)
    assert (info.value.method, info.value.code) == ("apps.connections.open", "invalid_auth")
    await adapter.stop()


async def test_native_status_is_the_assistant_status_line(fake_slack: FakeSlackApi) -> None:
    adapter = await native_adapter(fake_slack)
    assert adapter.capabilities.native_status
    await adapter.set_status(ref(thread="1.1"), "is searching the knowledge base…")
    assert fake_slack.statuses == [("C0GENERAL", "1.1", "is searching the knowledge base…")]
    with pytest.raises(PlatformError):
        await adapter.set_status(ref(), "no thread at the top level")
    await adapter.stop()
