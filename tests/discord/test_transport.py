"""The Discord transport: discord.py's real client against the loopback fake (REST + gateway)."""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from adapters.discord.manifest import INTENTS_INTEGER
from bot.capabilities import Op, RateScope
from bot.errors import ConfigError, MessageTooLong, PlatformError, RateLimited
from bot.events import ActionClick, ActionResult, Command, IncomingMessage, OriginKind
from bot.messages import Action, OutgoingMessage
from bot.refs import ConversationKind, ConversationRef
from tests.discord.conftest import Rig, start_rig
from tests.fakes.discord_api import (
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    OTHER_BOT_ID,
    USER_ID,
    FakeDiscord,
)

CHANNEL = ConversationRef(platform="discord", workspace_id=GUILD_ID, channel_id=CHANNEL_ID)


async def test_start_identifies_with_the_four_intents_and_registers_commands_globally(
    rig: Rig,
) -> None:
    [identify] = rig.fake.gateway.identifies
    assert identify["intents"] == INTENTS_INTEGER
    assert [c["name"] for c in rig.fake.commands["global"]] == [
        "ask",
        "reset",
        "help",
        "kb",
        "usage",
        "export-me",
        "forget-me",
    ]
    kb = rig.fake.commands["global"][3]
    assert [o["name"] for o in kb["options"]] == [
        "reindex",
        "status",
        "search",
        "cancel",
        "sources",
        "add",
        "remove",
    ]
    assert rig.adapter.bot.user_id == BOT_USER_ID


async def test_guild_ids_register_commands_per_guild(fake_discord: FakeDiscord) -> None:
    rig = await start_rig(fake_discord, guild_ids=[GUILD_ID])
    try:
        assert set(fake_discord.commands) == {GUILD_ID}
    finally:
        await rig.adapter.stop()


async def test_a_refused_token_is_a_config_error(fake_discord: FakeDiscord) -> None:
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        await start_rig(fake_discord, token="not-the-bot-token")


async def test_the_gateway_url_setting_is_used_without_asking_discord(
    fake_discord: FakeDiscord,
) -> None:
    rig = await start_rig(fake_discord, gateway_url=fake_discord.gateway_url)
    try:
        assert fake_discord.calls_to("GET /gateway/bot") == []
        assert len(fake_discord.gateway.identifies) == 1
    finally:
        await rig.adapter.stop()


async def test_sharding_opens_one_session_per_shard(fake_discord: FakeDiscord) -> None:
    fake_discord.shard_count = 2
    rig = await start_rig(fake_discord, shards=2)
    try:
        await fake_discord.gateway.wait_ready(sessions=2)
        assert sorted(tuple(i["shard"]) for i in fake_discord.gateway.identifies) == [
            (0, 2),
            (1, 2),
        ]
        await fake_discord.user_says(CHANNEL_ID, "hi", mention_bot=True)
        event = await rig.next_event()
        assert isinstance(event, IncomingMessage) and event.mentions_bot
        await asyncio.sleep(0.1)
        assert len(rig.events) == 1  # only the guild's shard delivered it
    finally:
        await rig.adapter.stop()


async def test_a_mention_is_answered_as_a_reply_and_edited(rig: Rig) -> None:
    question = await rig.fake.user_says(CHANNEL_ID, "what is our refund policy?", mention_bot=True)
    event = await rig.next_event()
    assert isinstance(event, IncomingMessage)
    assert event.mentions_bot and event.text == "what is our refund policy?"
    assert event.ref == CHANNEL and event.origin.message_id == question
    handle = await rig.adapter.send(
        event.ref, OutgoingMessage(text_markdown="Refunds", final=False, reply_to=question)
    )
    await rig.adapter.edit(handle, OutgoingMessage.text("Refunds take 5 days."))
    posted = rig.fake.messages[handle.message_id]
    assert posted.reference == question
    assert posted.edits == ["Refunds", "Refunds take 5 days."]


async def test_bots_and_our_own_messages_arrive_marked_as_bots(rig: Rig) -> None:
    await rig.fake.user_says(CHANNEL_ID, "ping", author=OTHER_BOT_ID, mention_bot=True)
    handle = await rig.adapter.send(CHANNEL, OutgoingMessage.text("mine"))
    await rig.fake.resend(handle.message_id)  # Discord echoes our own posts to the gateway
    await rig.wait_for(lambda: len(rig.events) == 2)
    assert all(isinstance(e, IncomingMessage) and e.author.is_bot for e in rig.events)


async def test_a_dm_is_direct(rig: Rig) -> None:
    dm = rig.fake.open_dm_channel(USER_ID)
    await rig.fake.user_says(dm, "hello in private")
    event = await rig.next_event()
    assert event.ref.kind is ConversationKind.DIRECT and event.ref.workspace_id == "@me"
    handle = await rig.adapter.send(event.ref, OutgoingMessage.text("hi!"))
    assert rig.fake.messages[handle.message_id].channel_id == dm


async def test_a_thread_opened_by_the_bot_is_a_thread_of_its_parent(rig: Rig) -> None:
    question = await rig.fake.user_says(CHANNEL_ID, "long topic", mention_bot=True)
    await rig.next_event()
    thread = await rig.adapter.open_thread(CHANNEL, question, "long topic " * 20)
    assert thread.thread_id == question and thread.kind is ConversationKind.THREAD
    assert len(rig.fake.channels[question]["name"]) == 100
    await rig.adapter.send(thread, OutgoingMessage.text("in the thread"))
    assert [m.content for m in rig.fake.bot_messages(question)] == ["in the thread"]
    assert await rig.adapter.bot_in_thread(thread)
    await rig.fake.user_says(question, "a follow-up")  # THREAD_CREATE reached discord.py's cache
    follow_up = await rig.next_event(2)
    assert isinstance(follow_up, IncomingMessage)
    assert follow_up.ref == thread and not follow_up.mentions_bot


async def test_a_thread_known_from_guild_create_and_one_the_bot_is_not_in(
    fake_discord: FakeDiscord,
) -> None:
    thread_id = fake_discord.add_thread(CHANNEL_ID, "people talking")
    rig = await start_rig(fake_discord)
    try:
        await fake_discord.user_says(thread_id, "anyone?")
        event = await rig.next_event()
        assert event.ref.thread_id == thread_id and event.ref.channel_id == CHANNEL_ID
        assert not await rig.adapter.bot_in_thread(event.ref)
        history = await rig.adapter.read_thread(event.ref, before="", limit=10)
        assert [m.text for m in history] == ["anyone?"]
    finally:
        await rig.adapter.stop()


async def test_a_reply_to_the_bot_is_flagged(rig: Rig) -> None:
    handle = await rig.adapter.send(CHANNEL, OutgoingMessage.text("Refunds take 5 days."))
    await rig.fake.user_says(CHANNEL_ID, "why 5?", reply_to=handle.message_id)
    event = await rig.next_event()
    assert isinstance(event, IncomingMessage)
    assert event.replies_to_bot and not event.mentions_bot


async def test_ask_is_deferred_in_time_and_answered_through_its_token(rig: Rig) -> None:
    interaction = await rig.fake.slash(
        "ask", [{"name": "question", "type": 3, "value": "refunds?"}]
    )
    command = await rig.next_event()
    assert isinstance(command, Command) and command.text == "ask refunds?"
    assert command.origin.kind is OriginKind.COMMAND and command.origin.deferred
    [callback] = rig.fake.calls_to("POST /interactions/{interaction_id}/{token}/callback")
    assert callback.body == {"type": 5, "data": {"flags": 0}}
    assert callback.at - interaction.created < 3.0
    handle = await rig.adapter.send(
        command.ref, OutgoingMessage.text("Refunds…", final=False), origin=command.origin
    )
    assert handle.message_id == interaction.original_id  # the first answer replaces "thinking…"
    await rig.adapter.edit(handle, OutgoingMessage.text("Refunds take 5 days."))
    assert rig.fake.messages[interaction.original_id].edits == ["Refunds…", "Refunds take 5 days."]
    second = await rig.adapter.send(
        command.ref, OutgoingMessage.text("part 2"), origin=command.origin
    )
    assert second.message_id != handle.message_id and second.message_id in interaction.followups


async def test_private_commands_are_deferred_ephemeral(rig: Rig) -> None:
    interaction = await rig.fake.slash("reset")
    await rig.next_event()
    assert interaction.callback_type == 5 and interaction.original_id
    assert rig.fake.messages[interaction.original_id].ephemeral


async def test_a_click_is_answered_in_the_callback_by_updating_the_card(rig: Rig) -> None:
    card = await rig.adapter.send(
        CHANNEL,
        OutgoingMessage(
            text_markdown="Run `http_get`?",
            actions=(Action(id="approve", label="Approve", value="apr1"),),
        ),
    )
    custom_id = rig.fake.messages[card.message_id].components[0]["components"][0]["custom_id"]
    rig.click_result = ActionResult(update=OutgoingMessage.text("Approved by Ada."))
    interaction = await rig.fake.click(card.message_id, custom_id)
    click = await rig.next_event()
    assert isinstance(click, ActionClick) and (click.action_id, click.value) == ("approve", "apr1")
    await rig.wait_for(lambda: interaction.callback_type)
    assert interaction.callback_type == 7
    message = rig.fake.messages[card.message_id]
    assert message.content == "Approved by Ada." and message.components == []


async def test_a_refusal_is_ephemeral(rig: Rig) -> None:
    card = await rig.adapter.send(
        CHANNEL,
        OutgoingMessage(
            text_markdown="Run?", actions=(Action(id="approve", label="Approve", value="apr1"),)
        ),
    )
    rig.click_result = ActionResult(private=OutgoingMessage.text("Only an admin can approve this."))
    interaction = await rig.fake.click(card.message_id, "parley:approve:apr1")
    await rig.wait_for(lambda: interaction.callback_type)
    assert interaction.callback_type == 4
    note = rig.fake.messages[interaction.original_id]
    assert note.ephemeral and note.content == "Only an admin can approve this."
    assert rig.fake.messages[card.message_id].content == "Run?"  # the card is untouched


async def test_a_slow_click_is_deferred_then_the_card_updated_through_the_token(
    fake_discord: FakeDiscord,
) -> None:
    rig = await start_rig(fake_discord, click_answer_s=0.1)
    try:
        card = await rig.adapter.send(
            CHANNEL,
            OutgoingMessage(
                text_markdown="Run?", actions=(Action(id="deny", label="Deny", value="apr1"),)
            ),
        )
        rig.click_result = ActionResult(update=OutgoingMessage.text("Denied by Ada."))
        rig.click_delay_s = 0.4
        interaction = await fake_discord.click(card.message_id, "parley:deny:apr1")
        await rig.wait_for(
            lambda: fake_discord.messages[card.message_id].content == "Denied by Ada."
        )
        assert interaction.callback_type == 6
        assert (
            len(fake_discord.calls_to("POST /interactions/{interaction_id}/{token}/callback")) == 1
        )
    finally:
        await rig.adapter.stop()


async def test_the_fake_refuses_a_second_callback(rig: Rig) -> None:
    interaction = await rig.fake.slash("help")
    await rig.next_event()
    with pytest.raises(PlatformError) as info:
        await rig.adapter.rest.call(
            "POST",
            f"/interactions/{interaction.id}/{interaction.token}/callback",
            body={"type": 5},
            auth=False,
        )
    assert info.value.code == "40060"


async def test_a_full_bucket_is_rate_limited_at_once_and_headers_are_announced(rig: Rig) -> None:
    handles = [await rig.adapter.send(CHANNEL, OutgoingMessage.text(f"m{i}")) for i in range(3)]
    for i in range(2):
        await rig.adapter.edit(handles[0], OutgoingMessage.text(f"e{i}"))
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        await rig.adapter.edit(handles[0], OutgoingMessage.text("one too many"))
    assert time.monotonic() - started < 1.0  # surfaced, not slept on by the SDK
    assert 0 < info.value.retry_after <= 5.0
    # Every answer's headers, the 429's too (Discord sends them on both).
    assert [a.remaining for a in rig.announcements] == [4, 3, 2, 1, 0, 0]
    assert {(a.op, a.scope) for a in rig.announcements} == {
        (Op.POST, RateScope.THREAD),
        (Op.EDIT, RateScope.THREAD),
    }
    assert rig.fake.rate_limited == 1


async def test_the_global_limit_is_rate_limited_with_its_code(fake_discord: FakeDiscord) -> None:
    rig = await start_rig(fake_discord)
    try:
        fake_discord.global_limit = 2
        await asyncio.sleep(1.05)  # start-up calls leave the global window
        await rig.adapter.typing(CHANNEL)
        await rig.adapter.typing(CHANNEL)
        with pytest.raises(RateLimited) as info:
            await rig.adapter.typing(CHANNEL)
        assert info.value.code == "global" and fake_discord.global_rate_limited == 1
    finally:
        await rig.adapter.stop()


async def test_too_long_is_refused_before_and_by_discord(rig: Rig) -> None:
    with pytest.raises(MessageTooLong) as info:
        await rig.adapter.send(CHANNEL, OutgoingMessage.text("x" * 2001))
    assert info.value.limit == 2000
    handle = await rig.adapter.send(CHANNEL, OutgoingMessage.text("x" * 2000))
    assert len(rig.fake.messages[handle.message_id].content) == 2000
    with pytest.raises(MessageTooLong):
        await rig.adapter.rest.call(
            "POST", f"/channels/{CHANNEL_ID}/messages", body={"content": "y" * 2001}
        )


async def test_a_missing_permission_is_one_log_line_naming_it_and_the_channel(rig: Rig) -> None:
    rig.fake.deny(CHANNEL_ID)
    with capture_logs() as logs, pytest.raises(PlatformError) as info:
        await rig.adapter.send(CHANNEL, OutgoingMessage.text("hi"))
    assert info.value.code == "50013"
    [line] = [entry for entry in logs if entry["event"] == "discord.missing_permission"]
    assert line["permission"] == "Send Messages" and line["channel"] == CHANNEL_ID
    assert rig.fake.bot_messages() == []


async def test_typing_posts_to_the_channel(rig: Rig) -> None:
    await rig.adapter.typing(CHANNEL)
    assert rig.fake.typing == [CHANNEL_ID]


async def test_a_private_note_without_a_token_goes_to_dms(rig: Rig) -> None:
    from bot.events import Origin

    await rig.adapter.send_private(
        CHANNEL, USER_ID, OutgoingMessage.text("just you"), origin=Origin(kind=OriginKind.MESSAGE)
    )
    dm = rig.fake.open_dm_channel(USER_ID)
    assert [m.content for m in rig.fake.bot_messages(dm)] == ["just you"]


async def test_resume_replays_what_was_missed_and_a_duplicate_keeps_its_id(rig: Rig) -> None:
    first = await rig.fake.user_says(CHANNEL_ID, "before", mention_bot=True)
    await rig.next_event()
    rig.fake.gateway.resume_overlap = 1  # Discord may deliver the last event again
    await rig.fake.gateway.drop()
    missed = await rig.fake.user_says(CHANNEL_ID, "while away", mention_bot=True)
    await rig.wait_for(lambda: len(rig.fake.gateway.resumes) == 1)
    await rig.wait_for(lambda: any(e.event_id == missed for e in rig.events))
    assert [e.event_id for e in rig.events] == [first, first, missed]
