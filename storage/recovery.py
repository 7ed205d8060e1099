"""Replies a dead process left half-written: found by worker leases, closed exactly once.

How this works
--------------
Every bot process is a worker with a random id (`SqlStore.worker_id`), stamped as `owner` on the
reply rows it opens (`pending` / `streaming`). It holds a lease in `workers`: its row's
`heartbeat_at`, renewed every `HEARTBEAT_S`. A worker whose heartbeat is older than `LEASE_S`
is gone (killed, crashed, host lost); a worker that stops cleanly deletes its row at once.

`reclaim()` runs at start-up and with every heartbeat. One conditional UPDATE … RETURNING marks
as `failed` every unfinished reply whose owner is neither this worker nor one holding a live
lease (rows from versions before owners existed count once untouched for `LEGACY_STALE`), so
when several workers reclaim at the same moment each row is returned to exactly one of them.
The caller then finalizes each on its platform (the stored platform message id) with a notice;
`failed` rows are never part of the history a prompt is built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, delete, or_, select, update

from bot.ports import MessageStatus
from bot.refs import ConversationRef
from storage.db import Database
from storage.models import conversations, messages, ref_of, utcnow, workers

HEARTBEAT_S = 2.0
LEASE_S = 6.0
"""Three missed heartbeats and a worker is gone."""
LEGACY_STALE = timedelta(minutes=10)
INTERRUPTED = "interrupted: the bot stopped mid-answer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Orphan:
    """An unfinished reply whose worker is gone, now marked failed."""

    row: int
    ref: ConversationRef
    text: str
    """What the reply had saved (the platform message shows about this much)."""
    message_id: str
    """The platform message to finalize; "" when it was never posted."""


class WorkerLease:
    def __init__(self, db: Database, worker_id: str, *, lease_s: float = LEASE_S) -> None:
        self._db = db
        self.worker_id = worker_id
        self._lease = timedelta(seconds=lease_s)

    async def heartbeat(self) -> None:
        """Take or renew this worker's lease."""
        now = utcnow()
        stmt = self._db.insert(workers).values(id=self.worker_id, heartbeat_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": now})
        async with self._db.write() as conn:
            await conn.execute(stmt)

    async def retire(self) -> None:
        """A clean stop: give the lease up at once."""
        async with self._db.write() as conn:
            await conn.execute(delete(workers).where(workers.c.id == self.worker_id))

    async def reclaim(self) -> list[Orphan]:
        """Mark failed and return every unfinished reply whose owner is gone (see above)."""
        now = utcnow()
        m = messages.c
        live = select(workers.c.id).where(workers.c.heartbeat_at >= now - self._lease)
        stmt = (
            update(messages)
            .where(
                m.status.in_((MessageStatus.PENDING.value, MessageStatus.STREAMING.value)),
                or_(
                    and_(m.owner.is_(None), m.updated_at < now - LEGACY_STALE),
                    and_(m.owner != self.worker_id, m.owner.not_in(live)),
                ),
            )
            .values(status=MessageStatus.FAILED.value, error=INTERRUPTED, updated_at=now)
            .returning(m.id, m.memory_key, m.text, m.platform_message_id)
        )
        async with self._db.write() as conn:
            rows = (await conn.execute(stmt)).all()
            await conn.execute(delete(workers).where(workers.c.heartbeat_at < now - self._lease))
        if not rows:
            return []
        keys = {row.memory_key for row in rows}
        async with self._db.engine.connect() as conn:
            found = await conn.execute(
                select(conversations).where(conversations.c.memory_key.in_(keys))
            )
            refs = {row.memory_key: ref_of(row) for row in found}
        return [
            Orphan(
                row=row.id,
                ref=refs[row.memory_key],
                text=row.text or "",
                message_id=row.platform_message_id or "",
            )
            for row in rows
            if row.memory_key in refs
        ]
