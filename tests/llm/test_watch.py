"""Watched: a provider stream's first event due by one time and its end by another, on virtual time.

The router gives each provider a share of the turn (`first_by`) to start answering, and the whole
turn a deadline (`end_by`); these tests drive `Watched` directly with a scripted stream on a
`FakeClock`, so each deadline is checked to the second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from bot.clock import FakeClock
from bot.llm.types import StreamEvent, TextDelta
from bot.llm.watch import END, LATE, Marker, Watched

START = 1000.0


class Script:
    """A provider stream: each (delay, text) is a wait on the clock, then a text event."""

    def __init__(self, clock: FakeClock, steps: Sequence[tuple[float, str]]) -> None:
        self.clock, self.steps = clock, steps
        self.closed = False

    async def events(self) -> AsyncIterator[StreamEvent]:
        try:
            for delay, text in self.steps:
                await self.clock.sleep(delay)
                yield TextDelta(text=text)
        finally:
            self.closed = True


async def drain(watched: Watched, clock: FakeClock) -> list[tuple[float, StreamEvent | Marker]]:
    """Every item up to the first marker, each with the virtual time it arrived."""
    seen: list[tuple[float, StreamEvent | Marker]] = []
    while True:
        item = await watched.next()
        seen.append((clock.now() - START, item))
        if isinstance(item, Marker):
            await watched.close()
            return seen


def watch(
    clock: FakeClock,
    steps: Sequence[tuple[float, str]],
    first_by: float | None,
    end_by: float | None,
) -> tuple[Watched, Script]:
    script = Script(clock, steps)
    watched = Watched(
        script.events(),
        clock=clock,
        first_by=None if first_by is None else START + first_by,
        end_by=None if end_by is None else START + end_by,
    )
    return watched, script


async def test_a_provider_silent_past_its_share_is_late_at_the_share() -> None:
    clock = FakeClock(START)
    watched, script = watch(clock, [(10, "too late")], first_by=4, end_by=None)
    assert await drain(watched, clock) == [(4, LATE)]
    assert script.closed  # the abandoned stream is closed, not left reading


async def test_a_stream_that_started_in_time_is_not_cut_at_the_share() -> None:
    clock = FakeClock(START)
    watched, _ = watch(clock, [(1, "a"), (5, "b")], first_by=4, end_by=None)
    assert await drain(watched, clock) == [
        (1, TextDelta(text="a")),
        (6, TextDelta(text="b")),
        (6, END),
    ]


async def test_a_stream_still_running_at_the_turn_deadline_is_late_at_the_deadline() -> None:
    clock = FakeClock(START)
    watched, script = watch(clock, [(1, "a"), (2, "b"), (30, "never")], first_by=4, end_by=9)
    assert await drain(watched, clock) == [
        (1, TextDelta(text="a")),
        (3, TextDelta(text="b")),
        (9, LATE),
    ]
    assert script.closed


async def test_without_deadlines_a_slow_stream_runs_to_its_end() -> None:
    clock = FakeClock(START)
    watched, _ = watch(clock, [(500, "slow"), (500, "slower")], first_by=None, end_by=None)
    assert await drain(watched, clock) == [
        (500, TextDelta(text="slow")),
        (1000, TextDelta(text="slower")),
        (1000, END),
    ]


async def test_a_provider_error_is_raised_to_the_reader() -> None:
    clock = FakeClock(START)

    async def failing() -> AsyncIterator[StreamEvent]:
        yield TextDelta(text="partial")
        raise ConnectionError("reset by peer")

    watched = Watched(failing(), clock=clock, first_by=START + 4, end_by=START + 9)
    assert await watched.next() == TextDelta(text="partial")
    with pytest.raises(ConnectionError, match="reset by peer"):
        await watched.next()
    await watched.close()


async def test_close_while_the_provider_is_waiting_stops_its_stream() -> None:
    clock = FakeClock(START, autojump=False)
    watched, script = watch(clock, [(60, "never")], first_by=30, end_by=90)
    await asyncio.sleep(0)  # the reader is now waiting inside the stream
    await watched.close()  # does not raise the reader's cancellation
    assert script.closed
