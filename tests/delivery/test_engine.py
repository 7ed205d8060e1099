"""Delivery: budgets shared per scope across concurrent replies, priority one-shots, splitting."""

from __future__ import annotations

import asyncio
import itertools

from bot.capabilities import Op, RateScope
from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from bot.errors import MessageTooLong
from bot.messages import Action, OutgoingMessage
from tests.delivery.conftest import caps, make, started, stream
from tests.fakes.memory_adapter import SLACK_LIKE, Call, MemoryAdapter, limit, ref

EDITS = SLACK_LIKE.limits_for(Op.EDIT)[0]


def within_budget(calls: list[Call], limit: int, window: float) -> bool:
    times = sorted(c.at for c in calls)
    return all(b - a >= window for a, b in zip(times, times[limit:], strict=False))


async def answer(reply: StreamingReply, clock: FakeClock, n: int, words: int = 120) -> str:
    await started(reply)
    text = await stream(reply, clock, [f"r{n}w{i} " for i in range(words)], 0.25)
    await reply.finish(OutgoingMessage.text(text))
    return text


async def test_twenty_concurrent_replies_share_one_budget(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    replies = [delivery.reply(ref(f"C{n}", thread=f"t{n}")) for n in range(20)]  # one workspace
    texts = await asyncio.gather(*(answer(r, clock, n) for n, r in enumerate(replies)))
    assert adapter.rate_limited == 0
    assert within_budget(adapter.ok_calls("edit"), EDITS.calls, EDITS.window_s)
    for reply, text in zip(replies, texts, strict=True):
        assert [adapter.messages[h.message_id].text_markdown for h in reply.handles] == [text]
        assert adapter.messages[reply.handles[0].message_id].final
    # Posts have their own per-channel budget: every placeholder went out at once, and every
    # reply got some intermediate edit too.
    first_posts = sorted(c.at for c in adapter.ok_calls("send"))
    assert first_posts[-1] == first_posts[0]
    assert all(len(adapter.history(r.handles[0].message_id)) >= 3 for r in replies)


async def test_replies_in_different_scopes_do_not_slow_each_other(clock: FakeClock) -> None:
    per_channel = (
        limit(frozenset({Op.POST, Op.EDIT}), RateScope.CHANNEL, 50, 60.0),
        *SLACK_LIKE.limits_for(Op.POST),
    )
    adapter, delivery = make(clock, caps(rate_limits=per_channel))
    busy = [delivery.reply(ref("busy", thread=f"t{n}")) for n in range(20)]
    quiet = delivery.reply(ref("quiet"))
    await asyncio.gather(
        *(answer(r, clock, n) for n, r in enumerate(busy)), answer(quiet, clock, 99)
    )
    quiet_writes = adapter.history(quiet.handles[0].message_id)
    gaps = [b.at - a.at for a, b in itertools.pairwise(quiet_writes)]
    assert max(gaps) <= SLACK_LIKE.min_edit_interval_s + 1e-9  # paced only by its own interval
    assert len(quiet_writes) >= 30
    busy_writes = adapter.history(busy[0].handles[0].message_id)
    assert len(busy_writes) < len(quiet_writes)
    assert adapter.rate_limited == 0


async def test_priority_update_jumps_the_queue(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    card = OutgoingMessage(
        text_markdown="Approve `deploy`?",
        actions=(Action(id="approve", label="Approve", value="x1"),),
    )
    handle = await delivery.post(ref("C0"), card)
    replies = [delivery.reply(ref(f"C{n}")) for n in range(20)]
    tasks = [asyncio.create_task(answer(r, clock, n, words=400)) for n, r in enumerate(replies)]
    await clock.sleep(30.0)  # the edit budget is spent and streaming edits are queued
    asked = clock.now()
    await delivery.update(handle, OutgoingMessage.text("Approved by Ada"))
    sent = adapter.history(handle.message_id)[-1]
    others_between = [
        c
        for c in adapter.ok_calls("edit")
        if asked <= c.at < sent.at
        or (
            c.at == sent.at and c is not sent and adapter.calls.index(c) < adapter.calls.index(sent)
        )
    ]
    assert others_between == []
    assert sent.at - asked <= EDITS.interval_s * 2
    await asyncio.gather(*tasks)
    assert adapter.rate_limited == 0


async def test_post_splits_long_text_and_keeps_buttons_on_the_last(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_post_chars=100, max_edit_chars=100))
    text = "```sh\n" + "".join(f"echo line {i}\n" for i in range(30)) + "```\nRun it?"
    actions = (Action(id="approve", label="Run", value="r1"),)
    handle = await delivery.post(ref(), OutgoingMessage(text_markdown=text, actions=actions))
    sends = adapter.ok_calls("send")
    assert len(sends) > 2
    assert sends[-1].message_id == handle.message_id and sends[-1].message.actions == actions
    assert all(not c.message.actions for c in sends[:-1])
    assert all(len(c.text) <= 100 and c.text.count("```") % 2 == 0 for c in sends)


async def test_post_retries_429_and_splits_smaller_on_message_too_long(clock: FakeClock) -> None:
    adapter, delivery = make(clock, max_chars=120)
    from bot.errors import RateLimited

    adapter.fail_next("send", RateLimited(3.0))
    text = "A sentence here. " * 20
    await delivery.post(ref(), OutgoingMessage.text(text))
    sends = adapter.ok_calls("send")
    assert "".join(c.text for c in sends) == text
    assert sends[0].at == 1003.0


async def test_update_edits_and_continues_in_new_messages(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_post_chars=60, max_edit_chars=60))
    handle = await delivery.post(ref(), OutgoingMessage.text("Approve?"))
    await clock.sleep(2.0)
    adapter.fail_next("edit", MessageTooLong(61, 50))
    await delivery.update(handle, OutgoingMessage.text("Approved by Ada. " * 5))
    assert adapter.messages[handle.message_id].text_markdown.startswith("Approved by Ada.")
    later = adapter.ok_calls("send")[1:]
    assert (
        "".join([adapter.messages[handle.message_id].text_markdown] + [c.text for c in later])
        == "Approved by Ada. " * 5
    )
