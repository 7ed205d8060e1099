"""StreamingReply against a strict in-memory platform on a FakeClock."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import pytest

from bot.clock import FakeClock
from bot.delivery import Delivery, split_text
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.messages import Action, Citation, OutgoingMessage
from bot.refs import ConversationKind, MessageHandle
from tests.delivery.conftest import caps, make, spread_over_messages, started, stream
from tests.fakes.memory_adapter import SLACK_LIKE, MemoryAdapter, ref

T0 = 1000.0


def visible(adapter: MemoryAdapter, handles: list[MessageHandle]) -> list[str]:
    return [adapter.messages[h.message_id].text_markdown for h in handles]


async def test_without_a_wait_the_placeholder_is_posted_at_once(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    assert clock.now() == T0
    assert adapter.messages[handle.message_id].text_markdown == "…"
    assert adapter.calls[0].kind == "send" and adapter.calls[0].at == T0
    await reply.finish(OutgoingMessage.text("done"))


async def test_edits_never_closer_than_the_min_interval(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    text = await stream(reply, clock, [f"token{i} " for i in range(200)], 0.05)
    await reply.finish(OutgoingMessage.text(text))
    times = [c.at for c in adapter.history(handle.message_id)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= SLACK_LIKE.min_edit_interval_s
    assert 9 <= len(times) <= 12  # 10 s of tokens at one edit per second, plus post and final
    assert adapter.rate_limited == 0
    assert visible(adapter, reply.handles) == [text]


async def test_latest_text_wins(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    """Texts arrive between flushes: each edit carries the newest text at its time, the frames
    in between are dropped, and a text after a quiet spell wakes the flusher."""
    reply = delivery.reply(ref())
    handle = await started(reply)  # the placeholder, at T0; edits then at most one a second
    for at, text in [
        (0.1, "a"),
        (0.2, "ab"),
        (0.5, "abc"),  # newest when the first edit is due, at 1.0
        (1.3, "abcd"),
        (1.6, "abcde"),  # newest at 2.0
        (2.4, "abcdef"),  # alone: written at 3.0, one interval after the last edit
        (5.0, "abcdefg"),  # after a quiet spell: written at once
        (5.5, "abcdefgh"),  # newest at 6.0
    ]:
        await clock.sleep(T0 + at - clock.now())
        reply.set_text(text)
    await clock.sleep(T0 + 8.0 - clock.now())
    edits = [(c.at - T0, c.text) for c in adapter.history(handle.message_id)[1:]]
    assert edits == [
        (1.0, "abc"),
        (2.0, "abcde"),
        (3.0, "abcdef"),
        (5.0, "abcdefg"),
        (6.0, "abcdefgh"),
    ]
    await reply.finish(OutgoingMessage.text("abcdefgh."))
    assert adapter.messages[handle.message_id].text_markdown == "abcdefgh."


async def test_final_edit_carries_citations_and_buttons(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    reply.set_text("answer")
    final = OutgoingMessage(
        text_markdown="answer [1]",
        citations=(Citation(number=1, title="Guide", source="guide.md"),),
        actions=(Action(id="approve", label="Approve", value="a1"),),
    )
    handles = await reply.finish(final)
    assert handles == [handle]
    last = adapter.history(handle.message_id)[-1]
    assert last.message == final and last.message.final


async def test_finish_before_start_posts_the_final_directly(
    adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handles = await reply.finish(OutgoingMessage.text("quick"))
    assert [c.kind for c in adapter.calls] == ["send"]
    assert visible(adapter, handles) == ["quick"]


async def test_llm_error_ends_with_a_clear_error_below_the_partial_answer(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    await started(reply)

    async def broken_llm() -> None:
        await stream(reply, clock, ["Here is code:\n", "```python\n", "x = 1\n"], 0.5)
        raise ConnectionError("stream cut")

    with pytest.raises(ConnectionError):
        await broken_llm()
    handles = await reply.fail("The model stopped answering. Please try again.")
    shown = visible(adapter, handles)[0]
    assert shown.startswith("Here is code:\n```python\nx = 1\n```")
    assert shown.endswith("⚠️ The model stopped answering. Please try again.")
    assert adapter.calls[-1].message.final


@pytest.mark.parametrize(("extra", "messages"), [(-1, 1), (0, 1), (1, 2)])
async def test_rollover_exactly_at_the_limit(clock: FakeClock, extra: int, messages: int) -> None:
    limit = 100
    adapter, delivery = make(clock, caps(max_edit_chars=limit, max_post_chars=limit))
    text = ("word " * 40)[: limit + extra]
    reply = delivery.reply(ref())
    await started(reply)
    reply.set_text(text[:50])
    await clock.sleep(2.0)
    reply.set_text(text)
    handles = await reply.finish(OutgoingMessage.text(text))
    shown = visible(adapter, handles)
    assert len(shown) == messages
    assert "".join(shown) == text
    assert all(len(s) <= limit for s in shown)


async def test_rollover_inside_a_code_fence_while_streaming(clock: FakeClock) -> None:
    limit = 120
    adapter, delivery = make(clock, caps(max_edit_chars=limit, max_post_chars=limit))
    lines = (
        ["Intro paragraph.\n", "\n", "```python\n"]
        + [f"value_{i} = {i} * 2\n" for i in range(30)]
        + ["```\n", "Done."]
    )
    reply = delivery.reply(ref())
    await started(reply)
    text = await stream(reply, clock, lines, 0.3)
    handles = await reply.finish(OutgoingMessage.text(text))
    shown = visible(adapter, handles)
    assert len(shown) >= 4
    for part in shown:
        assert len(part) <= limit
        assert part.count("```") % 2 == 0, part
    assert all(p.startswith("```python\n") for p in shown[1:-1])
    # The cuts made while streaming are exactly those of splitting the final text: nothing lost,
    # only fence lines added.
    parts = split_text(text, limit)
    assert shown == [p.text for p in parts]
    assert "".join(p.body for p in parts) == text
    # Ended messages were final when they were ended; only the last carries the final reply.
    for handle in handles[:-1]:
        assert adapter.history(handle.message_id)[-1].message.final


async def test_429_waits_retry_after_then_sends_the_newest_text(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    adapter.fail_next("edit", RateLimited(5.0))
    text = await stream(reply, clock, [f"t{i} " for i in range(100)], 0.1)
    await reply.finish(OutgoingMessage.text(text))
    refused = [c for c in adapter.calls if c.error == "RateLimited"]
    assert len(refused) == 1
    after = [c for c in adapter.history(handle.message_id) if c.at > refused[0].at]
    assert after[0].at == refused[0].at + 5.0
    # The newest text then (a token may land in the same instant), not the refused one.
    newest = round((after[0].at - T0) / 0.1)
    assert len(after[0].text.split()) in (newest - 1, newest)
    assert after[0].text != refused[0].text


async def test_repeated_429s_degrade_to_final_only(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    adapter.fail_next("edit", RateLimited(2.0), times=3)
    text = await stream(reply, clock, [f"t{i} " for i in range(200)], 0.1)
    assert reply.final_only
    refused_at = max(c.at for c in adapter.calls if c.error)
    assert [c for c in adapter.ok_calls("edit") if c.at > refused_at] == []
    await reply.finish(OutgoingMessage.text(text))
    writes = adapter.history(handle.message_id)
    assert writes[-1].text == text and writes[-1].message.final
    assert reply.rate_limited == 3


async def test_stricter_platform_than_declared_splits_smaller(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_edit_chars=200, max_post_chars=200), max_chars=90)
    reply = delivery.reply(ref())
    await started(reply)
    text = await stream(reply, clock, [f"sentence number {i}. " for i in range(30)], 0.2)
    handles = await reply.finish(OutgoingMessage.text(text))
    shown = visible(adapter, handles)
    assert all(len(s) <= 90 for s in shown)
    assert "".join(shown) == text
    assert any(c.error == "MessageTooLong" for c in adapter.calls)


async def test_citations_that_push_the_final_over_the_limit_roll_over(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_edit_chars=100, max_post_chars=100))
    reply = delivery.reply(ref())
    await started(reply)
    text = "x " * 45
    final = OutgoingMessage(
        text_markdown=text,
        citations=(Citation(number=1, title="A long title", source="https://example.org/doc"),),
    )
    handles = await reply.finish(final)
    assert "".join(visible(adapter, handles)) == text
    assert adapter.messages[handles[-1].message_id].citations == final.citations


async def test_final_edit_error_is_retried(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    reply.set_text("partial")
    await clock.sleep(3.0)
    adapter.fail_next("edit", PlatformError("internal_error"))
    handles = await reply.finish(OutgoingMessage.text("complete answer"))
    assert handles == [handle]
    assert visible(adapter, handles) == ["complete answer"]


async def test_final_edit_that_keeps_failing_is_posted_as_a_new_message(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    first = await started(reply)
    reply.set_text("partial")
    await clock.sleep(3.0)
    adapter.fail_next("edit", PlatformError("cant_update_message"), times=10)
    handles = await reply.finish(OutgoingMessage.text("complete answer"))
    assert reply.abandoned == [first]
    assert visible(adapter, handles) == ["complete answer"]
    assert adapter.calls[-1].kind == "send"


async def test_final_that_differs_from_the_streamed_text_rewrites_in_place(
    clock: FakeClock,
) -> None:
    adapter, reply, streamed = await spread_over_messages(clock)
    assert len(reply.handles) >= 2
    final = streamed.strip()[:50]
    handles = await reply.finish(OutgoingMessage.text(final))
    shown = visible(adapter, handles)
    assert shown[0] == final
    assert all(s == "_(merged into the message above)_" for s in shown[1:])


NATIVE = caps(native_stream=frozenset({ConversationKind.THREAD}))


async def test_native_stream_appends_deltas_and_finishes(clock: FakeClock) -> None:
    adapter, delivery = make(clock, NATIVE, native=True, native_streaming=True)
    reply = delivery.reply(ref(thread="t1"))
    reply.start()
    text = await stream(reply, clock, [f"w{i} " for i in range(50)], 0.1)
    handles = await reply.finish(OutgoingMessage.text(text))
    native = adapter.streams[0]
    assert text.startswith(native.text) and len(native.appends) >= 4
    assert native.finished is not None and native.finished.text_markdown == text
    times = [t for t, _ in native.appends]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0
    assert len(handles) == 1 and adapter.ok_calls("edit") == [] and adapter.ok_calls("send") == []


async def test_native_stream_error_adopts_the_streamed_message(clock: FakeClock) -> None:
    adapter, delivery = make(clock, NATIVE, native=True, native_streaming=True)
    reply = delivery.reply(ref(thread="t1"))
    reply.start()
    chunks = [f"w{i} " for i in range(50)]
    task = asyncio.create_task(stream(reply, clock, chunks, 0.1))
    await clock.sleep(2.05)
    adapter.fail_next("append", PlatformError("stream expired"))
    text = await task
    handles = await reply.finish(OutgoingMessage.text(text))
    stream_message = adapter.streams[0].stream_id
    assert adapter.streams[0].finished is None
    # The partial text is not left above a second copy: the streamed message is edited on.
    assert [h.message_id for h in handles] == [stream_message]
    assert adapter.ok_calls("send") == []
    assert visible(adapter, handles) == [text]


async def test_native_stream_without_a_message_id_falls_back_to_a_post(clock: FakeClock) -> None:
    adapter, delivery = make(clock, NATIVE, native=True, native_streaming=True)
    reply = delivery.reply(ref(thread="t1"))
    reply.start()
    reply.set_text("partial")
    await clock.sleep(1.5)
    adapter.streams[0].named = False
    adapter.fail_next("finish", PlatformError("stream broke"))
    reply.set_text("partial and more")
    handles = await reply.finish(OutgoingMessage.text("partial and more"))
    assert visible(adapter, handles) == ["partial and more"]
    assert len(adapter.ok_calls("send")) == 1


@pytest.mark.parametrize("extra", [-1, 0, 1])
async def test_native_replies_roll_over_at_the_limit(clock: FakeClock, extra: int) -> None:
    limit = 100
    native = dataclasses.replace(NATIVE, max_edit_chars=limit, max_post_chars=limit)
    adapter, delivery = make(clock, native, native=True, native_streaming=True)
    text = "```\n" + "".join(f"line {i}\n" for i in range(40)) + "```"
    text = text[: 2 * limit + extra] if extra else text
    reply = delivery.reply(ref(thread="t1"))
    reply.start()
    await stream(reply, clock, [text[i : i + 17] for i in range(0, len(text), 17)], 0.3)
    handles = await reply.finish(OutgoingMessage.text(text))
    shown = visible(adapter, handles)
    assert all(len(part) <= limit for part in shown)
    assert len(handles) == len(adapter.streams) >= 2
    assert [part.count("```") % 2 for part in shown[:-1]] == [0] * (len(shown) - 1)
    bodies = split_text(text, limit)
    assert shown == [part.text for part in bodies]


async def test_native_streams_only_where_the_platform_allows(clock: FakeClock) -> None:
    adapter, delivery = make(clock, NATIVE, native=True, native_streaming=True)
    reply = delivery.reply(ref())  # top level of a channel: not a kind NATIVE streams in
    assert visible(adapter, await reply.finish(OutgoingMessage.text("ok"))) == ["ok"]
    assert adapter.streams == []


async def test_final_after_message_too_long_is_never_lost(clock: FakeClock) -> None:
    adapter, delivery = make(clock, caps(max_edit_chars=100, max_post_chars=100))
    reply = delivery.reply(ref())
    await started(reply)
    adapter.fail_next("edit", MessageTooLong(99, None), times=2)
    text = "y " * 49
    handles = await reply.finish(OutgoingMessage.text(text))
    assert "".join(visible(adapter, handles)) == text


async def test_a_permanent_refusal_ends_the_reply_at_once(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    adapter.fail_next("send", PlatformError("missing Send Messages", code="50013", permanent=True))
    reply = delivery.reply(ref())
    reply.start()
    reply.set_text("an answer nobody can see")
    handles = await reply.finish(OutgoingMessage.text("an answer nobody can see"))
    assert handles == [] and len(adapter.calls) == 1  # tried once, not retried a dozen times
