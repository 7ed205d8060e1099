"""One provider stream read against the clock: its first event due by one time, its end by another.

How this works: `Watched` reads the stream in a task of its own into a queue; a second task
sleeps on the injected clock and puts `LATE` into the same queue when the first event is
overdue (nothing arrived by `first_by`) or the stream has not ended by `end_by`. The reader
simply takes from the queue, so waiting for each event can end at a deadline without a race
(a task and an `asyncio.wait`) per event. `close()` cancels both tasks: cancelling the reader
throws `CancelledError` into the provider stream at the point it waits, which closes its HTTP
response (the retry layer's `finally`).

Why not `asyncio.timeout`: it follows the loop's clock, not the injected one (tests would
sleep for real), and a timeout scope around a `yield` would cancel whatever the *consumer* of
the router happens to be doing when it fires (a database write), not the provider read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

from bot.clock import Clock
from bot.llm.types import StreamEvent


class Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


LATE: Final = Marker("LATE")
"""The first event or the end of the stream did not come in time."""
END: Final = Marker("END")
"""The stream ended."""


@dataclass(frozen=True, slots=True)
class _Failed:
    error: Exception


class Watched:
    def __init__(
        self,
        events: AsyncIterator[StreamEvent],
        *,
        clock: Clock,
        first_by: float | None,
        end_by: float | None,
    ) -> None:
        self._clock = clock
        self._queue: asyncio.Queue[StreamEvent | Marker | _Failed] = asyncio.Queue()
        self._started = False
        self._reader = asyncio.ensure_future(self._read(events))
        self._timer = asyncio.ensure_future(self._watch(first_by, end_by))

    async def next(self) -> StreamEvent | Marker:
        """The next event, `END`, or `LATE`; a provider error is raised here."""
        item = await self._queue.get()
        if isinstance(item, _Failed):
            raise item.error
        return item

    async def close(self) -> None:
        """Stop reading (closing the provider stream) and stop the timer."""
        self._timer.cancel()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        with contextlib.suppress(BaseException):
            await self._timer

    async def _read(self, events: AsyncIterator[StreamEvent]) -> None:
        try:
            async for event in events:
                self._started = True
                self._queue.put_nowait(event)
        except Exception as exc:  # handed to the reader of the queue, raised there
            self._queue.put_nowait(_Failed(exc))
        else:
            self._queue.put_nowait(END)

    async def _watch(self, first_by: float | None, end_by: float | None) -> None:
        if first_by is not None:
            await self._clock.sleep(first_by - self._clock.now())
            if not self._started:
                self._queue.put_nowait(LATE)
                return
        if end_by is not None:
            await self._clock.sleep(end_by - self._clock.now())
            self._queue.put_nowait(LATE)
