"""The in-process write lock, with a fast lane.

SQLite has one writer at a time. This process's writers queue on this lock (rather than in
SQLite's sleeping busy handler), first come first served, except that an *urgent* writer goes
ahead of every queued ordinary one. Event claims are urgent: a user sees nothing until their
event is claimed, while the writes of turns already under way (messages, usage, summaries) can
wait a millisecond. Claims are group-committed (`storage.claims`), so at most one urgent writer
is ever queued and ordinary writers cannot starve.

The lock is handed over, not released and re-raced: `release` wakes the next waiter and the lock
stays held on its behalf, so no newcomer can slip in between. A waiter cancelled after being
handed the lock passes it on.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteLock:
    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    @property
    def locked(self) -> bool:
        return self._held

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held:
            self._held = True
            return
        queue = self._urgent if urgent else self._ordinary
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release()  # handed the lock just as we were cancelled: pass it on
            elif handed in queue:
                queue.remove(handed)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._ordinary):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # still held, now on the waiter's behalf
                    return
        self._held = False
