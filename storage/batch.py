"""Group commit for the writes a user is waiting on.

SQLite has one writer at a time, and on a busy event loop every statement of a transaction is
several hops to the driver's thread and back, each waiting its turn on the loop. When twenty
questions arrive together, storing each question in a transaction of its own makes the last of
them wait for nineteen commits before its model is even called. A `GroupCommit` instead lets
the writes that arrive while a commit is under way wait for the next one, which writes them all
in one transaction (`write_many`). The first write of a quiet moment goes at once (it waits only
for the other writes made in the same tick of the loop).

If a batch fails, the database may have refused one item of it (a value it cannot store), not
the batch: each item is then written alone (`write_one`), so only the item at fault fails, with
its own error, and the others are stored as if no batch had been tried (`write_many` is one
transaction: nothing of the failed batch was kept).

Event claims (`storage.claims`) are group-committed by it too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write_many: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        write_one: Callable[[Item], Awaitable[Result]] | None,
        *,
        max_batch: int = 100,
    ) -> None:
        """`write_one` None: a failed batch fails all its writers (a write that only an outage,
        not a value, can refuse; one retry per item would multiply the wait for a dead
        database)."""
        self._write_many = write_many
        self._write_one = write_one
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            await asyncio.sleep(0)  # let writes made in the same tick join the first batch
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                try:
                    results = await self._write_many([item for item, _ in batch])
                except Exception as exc:
                    if len(batch) == 1 or self._write_one is None:
                        for _, future in batch:
                            _settle(future, exc)
                    else:
                        await self._one_by_one(batch, self._write_one)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
        finally:  # cancelled (the process is stopping): no writer waits for ever
            for _, future in [*batch, *self._waiting]:
                future.cancel()
            self._waiting.clear()

    async def _one_by_one(
        self,
        batch: Sequence[tuple[Item, asyncio.Future[Result]]],
        write_one: Callable[[Item], Awaitable[Result]],
    ) -> None:
        for item, future in batch:
            try:
                result = await write_one(item)
            except Exception as exc:
                _settle(future, exc)
            else:
                _settle(future, result)


def _settle(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if future.done():  # its writer was cancelled (a turn cut short); the write stands
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
