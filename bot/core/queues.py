"""Per-conversation serialization without a global lock.

Each memory key gets a FIFO of jobs and, while that FIFO is non-empty, exactly one worker task
that runs them one after another. A key with no pending work has no task and no entry, so idle
conversations cost nothing. Different keys run concurrently on the event loop. `submit` returns a
future that resolves when the job has run, which `chat` uses to print each answer in order and
tests use instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from bot.logs import get_logger

Job = Callable[[], Awaitable[None]]
log = get_logger(__name__)


class ConversationQueues:
    def __init__(self) -> None:
        self._pending: dict[str, deque[tuple[Job, asyncio.Future[None]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def submit(self, key: str, job: Job) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._closed:  # shutting down: nothing new starts (bot.shutdown)
            log.warning("job refused: shutting down", memory_key=key)
            done.cancel()
            return done
        self._pending.setdefault(key, deque()).append((job, done))
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key), name=f"conversation:{key}")
        return done

    def idle(self, key: str) -> bool:
        """No work queued or running for `key`."""
        return key not in self._workers

    def pending(self, key: str) -> int:
        """Jobs queued or running for `key`."""
        return len(self._pending.get(key, ()))

    @property
    def active(self) -> int:
        return len(self._workers)

    @property
    def queued(self) -> int:
        """Jobs waiting or running across every conversation (the queue-depth metric)."""
        return sum(len(queue) for queue in self._pending.values())

    async def drain(self) -> None:
        """Wait until every conversation is idle (including work submitted meanwhile)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def close(self) -> None:
        """Cancel every job (see `cancel`) and refuse new ones: the process is stopping."""
        self._closed = True
        await self.cancel()

    async def cancel(self) -> None:
        """Cancel every queued and running job (a turn finalizes its reply on the way out)."""
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
        for queue in self._pending.values():
            for _, done in queue:
                if not done.done():
                    done.cancel()
        self._pending.clear()
        self._workers.clear()

    async def _work(self, key: str) -> None:
        queue = self._pending[key]
        try:
            while queue:
                job, done = queue[0]
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a job must not kill the conversation's worker
                    log.exception("conversation job crashed", memory_key=key)
                finally:
                    queue.popleft()
                    if not done.done():
                        done.set_result(None)
        finally:
            if not queue:
                self._pending.pop(key, None)
            self._workers.pop(key, None)
