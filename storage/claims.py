"""Group commit for event claims.

Every inbound event is claimed (`INSERT … ON CONFLICT DO NOTHING`) before anything answers it, and
on SQLite every write transaction queues on one lock, so a burst of N events would pay N commits
in a row before the last one is even acknowledged as new. Instead, claims that arrive while a
commit is under way wait for the next one, which inserts them all in one statement and learns
from `RETURNING` which ids were new. The database still decides atomically (across processes,
too); within one batch a repeated id is new for its first claimant only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

InsertMany = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Insert the ids, return those that were not there before."""


class ClaimBatcher:
    def __init__(self, insert_many: InsertMany, *, max_batch: int = 500) -> None:
        self._insert_many = insert_many
        self._max_batch = max_batch
        self._waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def claim(self, event_id: str) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(event_id, []).append(future)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let claims made in the same tick join the first batch
        while self._waiting:
            ids = list(self._waiting)[: self._max_batch]
            batch = {event_id: self._waiting.pop(event_id) for event_id in ids}
            try:
                new = await self._insert_many(ids)
            except Exception as exc:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for event_id, futures in batch.items():
                for index, future in enumerate(futures):
                    if not future.done():
                        future.set_result(index == 0 and event_id in new)
