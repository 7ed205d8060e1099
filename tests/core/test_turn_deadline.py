"""LLM_TURN_DEADLINE_S bounds a whole turn's model time, every model call of a tool-using turn
included: the real router over an in-process provider, on the fake clock (`drive`: virtual
times below are exact to within a second)."""

from __future__ import annotations

import re

from bot.clock import FakeClock
from tests.core.conftest import Harness, start_stepped
from tests.fakes.stepped_model import Step, SteppedProvider, drive

DEADLINE_S = 45.0


async def ask(h: Harness, clock: FakeClock, text: str) -> float:
    """Say `text` and advance the clock until it is answered; the virtual seconds until its
    last edit (not until the database settles after it: real I/O, which the driven clock
    would count many times over on a busy machine)."""
    began = clock.now()
    await drive(clock, h.say(text))
    return h.adapter.ok_calls()[-1].at - began


async def start(tmp_path, *steps: Step) -> tuple[Harness, SteppedProvider, FakeClock]:
    return await start_stepped(tmp_path, *steps, llm_turn_deadline_s=DEADLINE_S)


async def test_a_provider_hanging_after_a_tool_is_answered_within_the_turn_deadline(
    tmp_path,
) -> None:
    h, provider, clock = await start(
        tmp_path,
        Step(delay_s=30.0, text="Let me compute.", calc="6*7"),
        Step(hang=True),
    )
    try:
        took = await ask(h, clock, "what is 6*7?")
        final = h.last_text()
        assert final.startswith("Let me compute.")  # what was shown stays
        assert re.search(r"stub: no answer within 1[2-5]s", final)  # which provider, how long
        assert "LLM_TURN_DEADLINE_S" in final  # what an operator can do
        assert took <= DEADLINE_S + 2.0, took  # + the tool and the final edit
        # The second call was given what the first left, not a fresh 45 s.
        first, second = provider.requests
        assert first.deadline_s == DEADLINE_S
        assert second.deadline_s is not None and 12.0 <= second.deadline_s <= 15.0
    finally:
        await h.app.stop()


async def test_a_stream_that_stalls_mid_answer_is_cut_at_the_deadline_with_a_note(
    tmp_path,
) -> None:
    h, provider, clock = await start(
        tmp_path, Step(delay_s=2.0, text="The first half of an answer", hang=True)
    )
    try:
        took = await ask(h, clock, "tell me everything")
        assert DEADLINE_S <= took <= DEADLINE_S + 2.0, took
        final = h.last_text()
        assert final.startswith("The first half of an answer")
        assert "cut short" in final and "45 s" in final and "LLM_TURN_DEADLINE_S" in final
        # It did answer: the provider is not paused for the next question.
        provider.steps.append(Step(delay_s=1.0, text="Second answer."))
        await ask(h, clock, "and now?")
        assert h.last_text() == "Second answer."
    finally:
        await h.app.stop()


async def test_a_slow_step_leaves_less_for_the_next_and_tool_time_is_not_model_time(
    tmp_path,
) -> None:
    h, provider, clock = await start(
        tmp_path,
        Step(delay_s=20.0, calc="1+1"),
        Step(delay_s=10.0, calc="2+2"),
        Step(delay_s=1.0, text="Done: 2 and 4.", word_s=0.5),
    )
    try:
        await ask(h, clock, "add things")
        assert h.last_text() == "Done: 2 and 4."
        limits = [r.deadline_s or 0.0 for r in provider.requests]
        assert limits[0] == DEADLINE_S
        assert 22.0 <= limits[1] <= 25.0 and 12.0 <= limits[2] <= 15.0
    finally:
        await h.app.stop()


async def test_a_step_cut_at_the_deadline_does_not_run_its_tool_calls(tmp_path) -> None:
    h, provider, clock = await start(
        tmp_path, Step(delay_s=1.0, text="Let me check.", calc="1+1", hang=True)
    )
    try:
        await ask(h, clock, "check something")
        final = h.last_text()
        assert final.startswith("Let me check.") and "cut short" in final
        assert len(provider.requests) == 1  # the calculator never ran: no step with its result
    finally:
        await h.app.stop()
