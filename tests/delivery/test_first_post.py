"""The first post of a reply: it waits briefly for the first text, shows typing meanwhile, goes
through the event's origin while its token is valid, references the asker's message, and a
status line is shown apart from the answer."""

from __future__ import annotations

from bot.adapter import Announcement
from bot.capabilities import Op, RateScope
from bot.clock import FakeClock
from bot.events import Origin, OriginKind
from bot.messages import OutgoingMessage
from tests.delivery.conftest import caps, make, stream
from tests.fakes.memory_adapter import DISCORD_LIKE, SLACK_LIKE, limit, ref

T0 = 1000.0


async def test_a_reply_starting_alone_posts_a_placeholder_at_once(clock: FakeClock) -> None:
    adapter, delivery = make(clock, wait=1.0)
    reply = delivery.reply(ref())
    reply.start()
    await clock.sleep(0.3)
    reply.set_text("Hello there")
    await reply.finish(OutgoingMessage.text("Hello there, Ada."))
    assert [(c.at, c.text) for c in adapter.ok_calls("send")] == [(T0, "…")]


async def test_while_another_reply_starts_the_first_post_carries_the_first_text(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock, wait=1.0)
    first, second = delivery.reply(ref("C1")), delivery.reply(ref("C2"))
    first.start()
    second.start()
    await clock.sleep(0.3)
    second.set_text("Hello there")
    await clock.sleep(0.5)
    handles = await second.finish(OutgoingMessage.text("Hello there, Ada."))
    sends = [c for c in adapter.ok_calls("send") if c.ref.channel_id == "C2"]
    assert [(c.at, c.text) for c in sends] == [(T0 + 0.3, "Hello there")]
    assert adapter.messages[handles[0].message_id].text_markdown == "Hello there, Ada."
    await first.finish(OutgoingMessage.text("done"))


async def test_placeholder_after_the_wait_then_the_text(clock: FakeClock) -> None:
    adapter, delivery = make(clock, wait=1.0)
    first, reply = delivery.reply(ref("C1")), delivery.reply(ref("C2"))
    first.start()  # starting too: the second reply waits for its text
    reply.start()
    await clock.sleep(3.0)
    reply.set_text("slow model")
    await reply.finish(OutgoingMessage.text("slow model"))
    posted = [c for c in adapter.ok_calls("send") if c.ref.channel_id == "C2"]
    assert (posted[0].at, posted[0].text) == (T0 + 1.0, "…")
    assert adapter.ok_calls("edit")[-1].text == "slow model"
    await first.finish(OutgoingMessage.text("done"))


async def test_typing_is_shown_until_the_first_text(clock: FakeClock) -> None:
    adapter, delivery = make(clock, DISCORD_LIKE, wait=30.0)
    reply = delivery.reply(ref())
    reply.start()
    await clock.sleep(20.0)
    reply.set_text("finally")
    await reply.finish(OutgoingMessage.text("finally"))
    typing = [c.at for c in adapter.ok_calls("typing")]
    assert typing[0] == T0 and len(typing) == 3  # renewed before each 10 s indicator runs out
    assert all(t < adapter.ok_calls("send")[0].at for t in typing)


async def test_status_line_is_shown_apart_and_replaced_by_the_answer(clock: FakeClock) -> None:
    adapter, delivery = make(clock, wait=1.0)
    reply = delivery.reply(ref())
    reply.start()
    reply.set_status("Searching the knowledge base…")
    await clock.sleep(0.1)
    first = adapter.ok_calls("send")[0]
    assert first.text == "_Searching the knowledge base…_"
    reply.set_status("")
    await stream(reply, clock, ["The answer", " is 42."], 1.0)
    await clock.sleep(2.0)
    assert adapter.messages[first.message_id].text_markdown == "The answer is 42."
    await reply.finish(OutgoingMessage.text("The answer is 42."))


async def test_status_stays_under_text_while_tools_run(clock: FakeClock) -> None:
    adapter, delivery = make(clock)
    reply = delivery.reply(ref())
    reply.start()
    reply.set_text("Let me check.")
    await clock.sleep(1.0)
    reply.set_status("Running calculator…")
    await clock.sleep(1.5)
    message = adapter.ok_calls("send")[0].message_id
    assert adapter.messages[message].text_markdown == "Let me check.\n\n_Running calculator…_"
    await reply.finish(OutgoingMessage.text("Let me check. It is 4."))
    assert adapter.messages[message].text_markdown == "Let me check. It is 4."


def interaction(token: str = "tok-1") -> Origin:
    return Origin(
        kind=OriginKind.COMMAND, token=token, token_ttl_s=900.0, deferred=True, received_at=T0
    )


async def test_a_deferred_command_is_answered_through_its_origin(clock: FakeClock) -> None:
    adapter, delivery = make(clock, DISCORD_LIKE, wait=1.0)
    adapter.issued_at["tok-1"] = T0
    reply = delivery.reply(ref(), origin=interaction())
    reply.start()
    await clock.sleep(2.0)  # the model takes 2 s to start
    reply.set_text("Here is the answer.")
    await reply.finish(OutgoingMessage.text("Here is the answer, in full."))
    sends = adapter.ok_calls("send")
    assert [c.origin for c in sends] == [True]  # the deferred response, not a second message
    assert adapter.messages[sends[0].message_id].text_markdown == "Here is the answer, in full."


async def test_an_expired_origin_falls_back_to_a_normal_post(clock: FakeClock) -> None:
    adapter, delivery = make(clock, DISCORD_LIKE, wait=1.0)
    adapter.issued_at["tok-1"] = T0
    reply = delivery.reply(ref(), origin=interaction())
    await clock.sleep(901.0)  # the platform's token is dead by now
    reply.start()
    handles = await reply.finish(OutgoingMessage.text("late answer"))
    assert [c.origin for c in adapter.ok_calls("send")] == [False]
    assert adapter.messages[handles[0].message_id].text_markdown == "late answer"
    assert not any(c.error for c in adapter.calls)


async def test_reply_reference_goes_on_the_first_message_only(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_post_chars=60, max_edit_chars=60), wait=1.0)
    reply = delivery.reply(ref(), reply_to="m-question")
    reply.start()
    text = "First sentence here. " * 8
    await reply.finish(OutgoingMessage.text(text))
    sends = adapter.ok_calls("send")
    assert len(sends) >= 2
    assert [c.message.reply_to for c in sends] == ["m-question"] + [""] * (len(sends) - 1)


async def test_private_replies_are_split_and_budgeted(clock: FakeClock) -> None:
    private = limit(frozenset({Op.PRIVATE}), RateScope.WORKSPACE, 2, 10.0)
    adapter, delivery = make(
        clock,
        caps(max_post_chars=80, max_edit_chars=80, rate_limits=(*SLACK_LIKE.rate_limits, private)),
    )
    origin = Origin(kind=OriginKind.COMMAND)
    text = "A line of help text. " * 12
    await delivery.private(ref(), "U1", OutgoingMessage.text(text), origin=origin)
    parts = adapter.private_texts()
    assert "".join(parts) == text and all(len(p) <= 80 for p in parts) and len(parts) >= 3
    at = [c.at for c in adapter.ok_calls("send_private")]
    assert at[2] >= at[0] + 10.0  # two per 10 s: the third waited, the platform never said 429
    assert adapter.rate_limited == 0


async def test_an_announced_limit_is_respected_before_a_429(clock: FakeClock) -> None:
    adapter, delivery = make(clock, DISCORD_LIKE)
    delivery.announce(
        Announcement(ref=ref(), op=Op.POST, scope=RateScope.CHANNEL, remaining=0, reset_after_s=4.0)
    )
    other = await delivery.post(ref("C2"), OutgoingMessage.text("another channel"))
    assert adapter.history(other.message_id)[0].at == T0  # only the announced bucket waits
    handle = await delivery.post(ref(), OutgoingMessage.text("after the reset"))
    assert adapter.history(handle.message_id)[0].at >= T0 + 4.0
