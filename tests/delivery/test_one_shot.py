"""Delivery's one-shot writes (`post`, `update`, `private`, `tell`): where a split message's
reply reference, interaction and buttons go, expired interaction tokens, private replies that
stay private, and a note that cannot be delivered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from structlog.testing import capture_logs

from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from bot.errors import MessageTooLong, PlatformError
from bot.events import Origin, OriginKind
from bot.messages import Action, OutgoingMessage
from bot.refs import Author, ConversationRef
from tests.delivery.conftest import caps, make, started, stream
from tests.fakes.memory_adapter import DISCORD_LIKE, MemoryAdapter, ref


@dataclass(frozen=True)
class Note:
    """What `tell` needs of the event it answers."""

    ref: ConversationRef
    author: Author
    origin: Origin


LONG = "".join(f"Paragraph {i} says something useful.\n\n" for i in range(12))


def interaction(clock: FakeClock, token: str = "tok-1") -> Origin:
    return Origin(kind=OriginKind.COMMAND, token=token, token_ttl_s=900.0, received_at=clock.now())


async def test_a_split_post_answers_the_interaction_and_replies_once(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_post_chars=100, max_edit_chars=100))
    buttons = (Action(id="approve", label="Run", value="r1"),)
    message = OutgoingMessage(text_markdown=LONG, actions=buttons, reply_to="m-question")
    handle = await delivery.post(ref(), message, origin=interaction(clock))
    sends = adapter.ok_calls("send")
    assert len(sends) > 2
    assert [c.origin for c in sends] == [True] + [False] * (len(sends) - 1)
    assert [c.message.reply_to for c in sends] == ["m-question"] + [""] * (len(sends) - 1)
    assert sends[-1].message.actions == buttons and handle.message_id == sends[-1].message_id
    assert "".join(c.text for c in sends).replace("\n", "") == LONG.replace("\n", "")


async def test_an_expired_interaction_token_is_not_used_and_the_post_still_goes(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock)
    origin = interaction(clock)
    adapter.issued_at[origin.token] = clock.now()
    await clock.sleep(901.0)  # the platform refuses the token from here on
    await delivery.post(ref(), OutgoingMessage.text("The reindex finished."), origin=origin)
    (sent,) = adapter.ok_calls("send")
    assert sent.text == "The reindex finished." and not sent.origin


async def test_a_long_private_reply_stays_private_and_keeps_a_valid_token(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock, caps(max_post_chars=100, max_edit_chars=100))
    origin = interaction(clock)
    await delivery.private(ref(), "U1", OutgoingMessage.text(LONG), origin=origin)
    assert adapter.ok_calls("send") == []
    assert len(adapter.private) > 2
    assert {user for _, user, _, _ in adapter.private} == {"U1"}
    assert {o.token for _, _, _, o in adapter.private} == {"tok-1"}
    assert "".join(adapter.private_texts()).replace("\n", "") == LONG.replace("\n", "")


async def test_a_private_reply_past_its_token_goes_without_it(clock: FakeClock) -> None:
    adapter, delivery = make(clock)
    origin = interaction(clock)
    await clock.sleep(1_000.0)
    await delivery.private(
        ref(), "U1", OutgoingMessage.text("Only you can see this."), origin=origin
    )
    ((_, _, message, used),) = adapter.private
    assert message.text_markdown == "Only you can see this." and used.token == ""


async def test_a_note_that_cannot_be_delivered_is_logged_not_raised(
    adapter: MemoryAdapter, delivery: Delivery, clock: FakeClock
) -> None:
    adapter.fail_next("send_private", PlatformError("channel_not_found", permanent=True))
    sender = Note(ref=ref(), author=Author(id="U1", display_name="Ada"), origin=interaction(clock))
    with capture_logs() as logs:
        await delivery.tell(sender, "Your export is ready.")
    assert adapter.private == []
    assert [e["event"] for e in logs if e["log_level"] == "error"] == [
        "could not send a private note"
    ]


async def test_a_post_refused_as_too_long_is_split_at_the_limit_the_platform_named(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock, max_chars=150)
    adapter.fail_next("send", MessageTooLong(400, 150))
    text = "A sentence here. " * 20  # 340 characters, under the declared limit
    await delivery.post(ref(), OutgoingMessage.text(text))
    sends = adapter.ok_calls("send")
    assert len(sends) == 3 and all(len(c.text) <= 150 for c in sends)
    assert "".join(c.text for c in sends) == text


async def test_a_post_goes_ahead_of_streaming_edits_in_its_channel(clock: FakeClock) -> None:
    """Discord counts posts and edits together per channel: a card posted while answers stream
    in the same channel must not wait behind their queued edits."""
    adapter, delivery = make(clock, DISCORD_LIKE)
    channel = ref("C0")
    replies = [delivery.reply(channel) for _ in range(4)]
    tasks = [asyncio.create_task(stream_long(r, clock, n)) for n, r in enumerate(replies)]
    await clock.sleep(12.0)  # the channel's 5 per 5 s is spent and edits are queued
    asked = clock.now()
    card = await delivery.post(channel, OutgoingMessage.text("Approve `deploy`?"))
    (posted,) = adapter.history(card.message_id)
    order = adapter.calls.index(posted)
    jumped = [
        c for c in adapter.ok_calls("edit") if c.at >= asked and adapter.calls.index(c) < order
    ]
    assert jumped == []  # the next free slot is the card's, not a queued edit's
    assert posted.at - asked <= DISCORD_LIKE.min_edit_interval_s
    await asyncio.gather(*tasks)
    assert adapter.rate_limited == 0


async def stream_long(reply: StreamingReply, clock: FakeClock, n: int) -> None:
    await started(reply)
    text = await stream(reply, clock, [f"r{n}w{i} " for i in range(200)], 0.25)
    await reply.finish(OutgoingMessage.text(text))
