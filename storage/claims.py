"""Group commit for event claims.

Every inbound event is claimed (`INSERT … ON CONFLICT DO NOTHING`) before anything answers it, and
on SQLite every write transaction queues on one lock, so a burst of N events would pay N commits
in a row before the last one is even acknowledged as new. Instead, claims that arrive while a
commit is under way wait for the next one, which inserts them all in one statement and learns
from `RETURNING` which ids were new. The database still decides atomically (across processes,
too); within one batch a repeated id is new for its first claimant only. The batching is
`storage.batch.GroupCommit`'s; a failed insert fails the whole batch's claims at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from storage.batch import GroupCommit

InsertMany = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Insert the ids, return those that were not there before."""


class ClaimBatcher:
    def __init__(self, insert_many: InsertMany, *, max_batch: int = 500) -> None:
        self._insert_many = insert_many
        self._commit: GroupCommit[str, bool] = GroupCommit(
            self._claim_many, None, max_batch=max_batch
        )

    async def claim(self, event_id: str) -> bool:
        return await self._commit.write(event_id)

    async def _claim_many(self, event_ids: Sequence[str]) -> list[bool]:
        """One statement for the batch; a repeated id is new for its first claimant only."""
        new = await self._insert_many(list(dict.fromkeys(event_ids)))
        first: set[str] = set()
        results = []
        for event_id in event_ids:
            results.append(event_id in new and event_id not in first)
            first.add(event_id)
        return results
