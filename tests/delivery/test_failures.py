"""How a streamed reply meets a platform that refuses: repeated errors on intermediate edits,
a length limit the platform names, a leftover message whose edit fails once, a native status
line that is shown or refused. Every path still ends with the final answer on screen."""

from __future__ import annotations

from bot.clock import FakeClock
from bot.delivery import Delivery, split_text
from bot.errors import PlatformError
from bot.messages import OutgoingMessage
from tests.delivery.conftest import caps, make, spread_over_messages, started, stream
from tests.fakes.memory_adapter import MemoryAdapter, ref

WORDS = [f"t{i} " for i in range(60)]


async def test_errors_on_streaming_edits_turn_the_reply_final_only_at_the_third(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    adapter.fail_next("edit", PlatformError("internal_error"), times=3)
    text = await stream(reply, clock, WORDS, 0.2)
    assert reply.final_only
    last_refusal = max(c.at for c in adapter.calls if c.error)
    assert [c for c in adapter.ok_calls("edit") if c.at > last_refusal] == []
    await reply.finish(OutgoingMessage.text(text))
    assert adapter.messages[handle.message_id].text_markdown == text


async def test_two_errors_on_streaming_edits_do_not_stop_the_stream(
    clock: FakeClock, adapter: MemoryAdapter, delivery: Delivery
) -> None:
    reply = delivery.reply(ref())
    handle = await started(reply)
    adapter.fail_next("edit", PlatformError("internal_error"), times=2)
    text = await stream(reply, clock, WORDS, 0.2)
    assert not reply.final_only
    last_refusal = max(c.at for c in adapter.calls if c.error)
    assert len([c for c in adapter.ok_calls("edit") if c.at > last_refusal]) >= 3
    await reply.finish(OutgoingMessage.text(text))
    assert adapter.messages[handle.message_id].text_markdown == text


async def test_a_length_the_platform_names_is_used_as_the_new_limit(clock: FakeClock) -> None:
    """Declared 400, the platform refuses over 150 and says so: the parts are cut at 150, not at
    some smaller guess, so the answer takes as few messages as the platform allows."""
    adapter, delivery = make(clock, caps(max_edit_chars=400, max_post_chars=400), max_chars=150)
    reply = delivery.reply(ref())
    await started(reply)
    text = "".join(f"Sentence number {i} is here. " for i in range(24))
    handles = await reply.finish(OutgoingMessage.text(text))
    shown = [adapter.messages[h.message_id].text_markdown for h in handles]
    assert "".join(shown) == text
    assert len(handles) == len(split_text(text, 150))


async def test_a_leftover_whose_edit_fails_once_still_says_it_was_merged(
    clock: FakeClock,
) -> None:
    adapter, reply, streamed = await spread_over_messages(clock)
    spanned = list(reply.handles)
    assert len(spanned) >= 2
    final = streamed.strip()[:50]
    original = adapter.edit

    async def edit(handle: object, message: OutgoingMessage) -> None:
        if message.text_markdown.startswith("_(merged") and not failed:
            failed.append(handle)
            raise PlatformError("internal_error")
        await original(handle, message)  # type: ignore[arg-type]

    failed: list[object] = []
    adapter.edit = edit  # type: ignore[method-assign]
    await reply.finish(OutgoingMessage.text(final))
    assert failed
    shown = [adapter.messages[h.message_id].text_markdown for h in spanned]
    assert shown[0] == final
    assert all(s == "_(merged into the message above)_" for s in shown[1:])


async def test_a_native_status_is_shown_natively_and_never_as_a_line(
    clock: FakeClock,
) -> None:
    """With a typing indicator the first post waits for the first words; a status set
    meanwhile goes to the platform's own status line, not into a message."""
    adapter, delivery = make(clock, caps(native_status=True, typing_interval_s=10.0), wait=1.0)
    reply = delivery.reply(ref())
    reply.start()
    reply.set_status("Searching the knowledge base…")
    await clock.sleep(0.3)
    assert [text for _, text in adapter.statuses] == ["Searching the knowledge base…"]
    assert adapter.ok_calls("send") == []
    reply.set_status("")
    await stream(reply, clock, ["The answer", " is 42."], 0.2)
    handles = await reply.finish(OutgoingMessage.text("The answer is 42."))
    assert [text for _, text in adapter.statuses] == ["Searching the knowledge base…", ""]
    sent = adapter.ok_calls("send")
    assert all("Searching" not in c.text for c in sent)
    assert adapter.messages[handles[-1].message_id].text_markdown == "The answer is 42."


async def test_a_refused_native_status_falls_back_to_a_line_in_the_message(
    clock: FakeClock,
) -> None:
    adapter, delivery = make(clock, caps(native_status=True), wait=1.0)
    adapter.fail_next("status", PlatformError("missing_scope"))
    reply = delivery.reply(ref())
    reply.start()
    reply.set_status("Searching the knowledge base…")
    await clock.sleep(0.3)
    assert adapter.statuses == []
    first = adapter.ok_calls("send")[0]
    assert first.text == "_Searching the knowledge base…_"
    reply.set_status("")
    await stream(reply, clock, ["The answer", " is 42."], 1.0)
    await reply.finish(OutgoingMessage.text("The answer is 42."))
    assert adapter.messages[first.message_id].text_markdown == "The answer is 42."
    assert adapter.statuses == []  # the line is used from then on
