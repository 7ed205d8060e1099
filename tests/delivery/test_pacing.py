"""Per-channel post pacing: declared in Capabilities, kept by the engine for every new message."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.clock import FakeClock
from bot.errors import RateLimited
from bot.messages import OutgoingMessage
from tests.delivery.conftest import caps, make
from tests.fakes.memory_adapter import MemoryAdapter, ref

T0 = 1000.0
PACED = caps(post_interval_s=1.0, post_burst=2)


async def test_the_fake_refuses_posts_faster_than_declared(clock: FakeClock) -> None:
    adapter = MemoryAdapter(PACED, clock=clock)
    for _ in range(2):
        await adapter.send(ref(), OutgoingMessage.text("hi"))
    with pytest.raises(RateLimited) as info:
        await adapter.send(ref(), OutgoingMessage.text("hi"))
    assert info.value.retry_after == pytest.approx(1.0)
    await adapter.send(ref("C2"), OutgoingMessage.text("another channel"))


async def test_placeholders_and_one_shots_in_one_channel_wait_for_its_turn(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock, PACED)
    replies = [delivery.reply(ref("C1", thread=f"t{n}")) for n in range(4)]
    elsewhere = delivery.reply(ref("C2"))
    await asyncio.gather(
        *(r.start() for r in [*replies, elsewhere]),
        delivery.post(ref("C1"), OutgoingMessage.text("Approve?")),
    )
    sends = adapter.ok_calls("send")
    assert [c.at for c in sends if c.ref.channel_id == "C1"] == [T0, T0, T0 + 1, T0 + 2, T0 + 3]
    assert [c.at for c in sends if c.ref.channel_id == "C2"] == [T0]  # not slowed by C1
    assert adapter.rate_limited == 0
    for reply in [*replies, elsewhere]:
        await reply.finish(OutgoingMessage.text("done"))


@pytest.mark.parametrize("one_shot", [False, True])
async def test_rollover_and_split_posts_are_paced(clock: FakeClock, one_shot: bool) -> None:
    adapter, delivery = make(
        clock, caps(post_interval_s=5.0, post_burst=1, max_post_chars=100, max_edit_chars=100)
    )
    text = "A sentence here. " * 30
    if one_shot:
        await delivery.post(ref(), OutgoingMessage.text(text))
    else:
        reply = delivery.reply(ref())
        await reply.start()
        await reply.finish(OutgoingMessage.text(text))
    sends = [c.at for c in adapter.ok_calls("send")]
    assert len(sends) >= 5
    assert min(b - a for a, b in itertools.pairwise(sends)) >= 5.0
    assert adapter.rate_limited == 0
    shown = [adapter.messages[c.message_id].text_markdown for c in adapter.ok_calls("send")]
    assert "".join(shown) == text
