"""Graceful shutdown through the app, on the fake clock: not ready and no new events at once,
answers in progress finish within SHUTDOWN_GRACE_S, or are finalized with a notice and marked
failed before it ends."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.events import IncomingMessage, Origin, OriginKind
from storage import open_store
from storage.models import messages
from tests.core.conftest import ADA, Harness, channel, start_stepped
from tests.fakes.stepped_model import Step, drive

GRACE_S = 20.0


async def until_shown(h: Harness, text: str) -> None:
    async with asyncio.timeout(10):
        while not any(text in m.text_markdown for m in h.adapter.messages.values()):
            await asyncio.sleep(0.002)
            h.app.clock.advance(0.25)  # type: ignore[attr-defined]


async def test_an_answer_in_progress_finishes_and_nothing_new_is_taken(tmp_path) -> None:
    h, provider, clock = await start_stepped(
        tmp_path,
        Step(delay_s=1.0, text="one two three four five six seven eight", word_s=1.0),
        shutdown_grace_s=GRACE_S,
    )
    asking = asyncio.ensure_future(h.say("count to eight"))
    await until_shown(h, "one two")
    began = clock.now()
    stopping = asyncio.ensure_future(h.app.shutdown(GRACE_S))
    await asyncio.sleep(0)

    checks = await h.app._readiness()
    assert checks["shutdown"] == "draining"  # not ready, first
    sent_before = len(h.adapter.calls)
    assert h.app.pipeline is not None
    late = IncomingMessage(
        event_id="late-1",
        ref=channel(),
        author=ADA,
        text="are you there?",
        origin=Origin(kind=OriginKind.MESSAGE, message_id="u-late"),
        mentions_bot=True,
    )
    assert await h.app.pipeline(late) is None  # not answered, no model call
    assert len(provider.requests) == 1
    assert [c for c in h.adapter.calls[sent_before:] if c.kind == "send"] == []
    # but never dropped silently: the sender is told, privately
    assert [m.text_markdown for _, user, m, _ in h.adapter.private if user == ADA.id] == [
        "Parley is restarting; please ask again in a moment."
    ]

    await drive(clock, stopping)
    await asking
    final = h.last_text()
    assert final == "one two three four five six seven eight"  # finished, no notice
    last_edit = h.adapter.ok_calls()[-1].at
    assert last_edit - began <= GRACE_S  # (the edit, not the closing of connections after it)


async def test_an_answer_that_would_overrun_is_finalized_with_a_notice(tmp_path) -> None:
    h, _, clock = await start_stepped(
        tmp_path, Step(delay_s=1.0, text="Half an answer", hang=True), shutdown_grace_s=GRACE_S
    )
    asking = asyncio.ensure_future(h.say("tell me everything"))
    await until_shown(h, "Half an")
    began = clock.now()
    await drive(clock, h.app.shutdown(GRACE_S))
    await asyncio.gather(asking, return_exceptions=True)

    # Finalized when the grace (less its margin) ran out. (Measured at the edit: closing the
    # connections afterwards is real I/O, which the driven clock would count many times over.)
    [noticed] = [c.at for c in h.adapter.ok_calls() if "restarting" in c.message.text_markdown]
    assert GRACE_S - 5.0 <= noticed - began <= GRACE_S, noticed - began
    final = h.last_text()
    assert final.startswith("Half an answer") and "Parley is restarting" in final
    # Marked failed, so it is never fed back to the model as a complete turn.
    again = await open_store(h.app.settings.sqlalchemy_url)  # shutdown closed the app's store
    try:
        async with again.engine.connect() as conn:
            rows = (await conn.execute(select(messages.c.role, messages.c.status))).all()
        assert sorted(rows) == [("assistant", "failed"), ("user", "final")]
        history = await again.history(channel().memory_key)
        assert [m.text for m in history] == ["tell me everything"]
    finally:
        await again.close()
