"""`SqlRetention`: delete what is older than the retention periods (a daily scheduled job).

Two horizons. Conversation content (`RETENTION_DAYS`): a conversation untouched since the
horizon goes whole (its messages with it, by the foreign key's cascade); in a conversation still
in use, messages older than the horizon go, and a rolling summary built from any of them is
dropped, since it carries their content (memory is rebuilt from the messages kept on the next
turn). Records (`AUDIT_RETENTION_DAYS`): approvals and their audit events, decided paused turns,
the admin audit log and scheduled-job runs older than that. Approvals still pending and turns
still paused are never purged: they are live, whatever their age. Usage records stay (they carry
tokens and cost, not content).

Each horizon is one transaction; `now` is passed in, so tests move time by passing a later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from bot.tools.approvals import ApprovalStatus, TurnStatus
from storage.approvals import approval_audit, paused_turns, tool_approvals
from storage.audit import admin_audit
from storage.db import Database
from storage.jobs import job_runs
from storage.models import conversations, messages


@dataclass(frozen=True, slots=True, kw_only=True)
class PurgeReport:
    conversations: int = 0
    messages: int = 0
    summaries: int = 0
    approvals: int = 0
    audit: int = 0
    """Approval audit events, admin audit entries and job runs."""

    def render(self) -> str:
        return (
            f"purged {self.conversations} conversations, {self.messages} messages, "
            f"{self.summaries} summaries, {self.approvals} approvals, {self.audit} audit rows"
        )


class SqlRetention:
    def __init__(self, db: Database, *, days: int, audit_days: int) -> None:
        self._db = db
        """`days` / `audit_days` 0: that horizon keeps everything."""
        self._keep = timedelta(days=days) if days else None
        self._keep_audit = timedelta(days=audit_days) if audit_days else None

    async def purge(self, now: datetime) -> PurgeReport:
        content = await self._purge_content(now - self._keep) if self._keep else {}
        records = await self._purge_records(now - self._keep_audit) if self._keep_audit else {}
        return PurgeReport(**content, **records)

    async def _purge_content(self, before: datetime) -> dict[str, int]:
        c, m = conversations.c, messages.c
        async with self._db.write() as conn:
            stale = select(c.memory_key).where(c.updated_at < before)
            old_messages = (
                await conn.execute(
                    select(func.count()).select_from(messages).where(m.memory_key.in_(stale))
                )
            ).scalar_one()
            gone = (await conn.execute(delete(conversations).where(c.updated_at < before))).rowcount
            oldest_old = (
                select(func.min(m.id))
                .where(m.memory_key == c.memory_key, m.created_at < before)
                .scalar_subquery()
            )
            summaries = (
                await conn.execute(
                    update(conversations)
                    .where(c.summary_through_message_id >= oldest_old)
                    .values(summary=None, summary_through_message_id=None)
                )
            ).rowcount
            old = (await conn.execute(delete(messages).where(m.created_at < before))).rowcount
        return {"conversations": gone, "messages": old_messages + old, "summaries": summaries}

    async def _purge_records(self, before: datetime) -> dict[str, int]:
        a, t = tool_approvals.c, paused_turns.c
        async with self._db.write() as conn:
            approvals = (
                await conn.execute(
                    delete(tool_approvals).where(
                        a.created_at < before, a.status != ApprovalStatus.PENDING.value
                    )
                )
            ).rowcount
            live = select(a.turn_id).where(a.status == ApprovalStatus.PENDING.value)
            await conn.execute(
                delete(paused_turns).where(
                    t.created_at < before,
                    t.status != TurnStatus.PAUSED.value,
                    t.turn_id.not_in(live),
                )
            )
            audit = 0
            for stmt in (
                delete(approval_audit).where(approval_audit.c.at < before),
                delete(admin_audit).where(admin_audit.c.at < before),
                delete(job_runs).where(job_runs.c.claimed_at < before),
            ):
                audit += (await conn.execute(stmt)).rowcount
        return {"approvals": approvals, "audit": audit}
