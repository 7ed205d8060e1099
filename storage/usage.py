"""`SqlUsageLedger`: the `bot.usage.ledger.UsageLedger` over `usage_records` (one row per LLM
call, written by `SqlStore.record_usage`; attribution columns since revision 0006).

Reports add up in SQL per key of one dimension (user, channel, model, provider) and model, so
what comes back is bounded by users × models, not by calls (grouping by every column at once
returned nearly one group per call at scale: 1.2 s for a month of 100k calls,
benchmarks/bench_usage.py). The budget checks are one SUM each over an index on (user_id,
created_at) or (channel_id, created_at).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select

from bot.usage.ledger import UsageGroup, UsageQuery
from storage.db import Database
from storage.models import usage_records

u = usage_records.c


class SqlUsageLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def groups(self, query: UsageQuery, *, by: str) -> list[UsageGroup]:
        keys, label = _DIMENSIONS[by]
        unpriced = u.cost_usd.is_(None)
        stmt = (
            select(
                *keys,
                u.model,
                label,
                func.count(),
                func.coalesce(func.sum(u.input_tokens), 0),
                func.coalesce(func.sum(u.output_tokens), 0),
                func.coalesce(func.sum(u.cost_usd), 0.0),
                func.coalesce(func.sum(case((unpriced, u.input_tokens), else_=0)), 0),
                func.coalesce(func.sum(case((unpriced, u.output_tokens), else_=0)), 0),
            )
            .where(*_filters(query))
            .group_by(*keys, u.model)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        groups = []
        for row in rows:
            key = ":".join(str(part) for part in row[: len(keys)]) if keys else str(row[0])
            model, name, calls, tokens_in, tokens_out, cost, late_in, late_out = row[len(keys) :]
            groups.append(
                UsageGroup(
                    dimension=by,
                    key=key,
                    label=_label(by, key, str(name or "")),
                    model=model,
                    calls=int(calls),
                    input_tokens=int(tokens_in),
                    output_tokens=int(tokens_out),
                    cost_usd=float(cost),
                    unpriced_input_tokens=int(late_in),
                    unpriced_output_tokens=int(late_out),
                )
            )
        return groups

    async def tokens_since(
        self,
        since: datetime,
        *,
        platform: str,
        workspace_id: str,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> int:
        where: list[ColumnElement[bool]] = [
            u.created_at >= since,
            u.platform == platform,
            u.workspace_id == workspace_id,
        ]
        if user_id is not None:
            where.append(u.user_id == user_id)
        if channel_id is not None:
            where.append(u.channel_id == channel_id)
        stmt = select(func.coalesce(func.sum(u.input_tokens + u.output_tokens), 0)).where(*where)
        async with self._db.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())


_DIMENSIONS: dict[str, tuple[tuple[ColumnElement[Any], ...], ColumnElement[Any]]] = {
    "user": ((u.platform, u.user_id), func.max(u.user_name)),
    "channel": ((u.platform, u.channel_id), func.max(u.channel_id)),
    "model": ((), func.max(u.model)),
    "provider": ((u.provider,), func.max(u.provider)),
}
"""Per dimension: the columns that make its key (the model is always grouped on too) and the
label's source."""


def _label(by: str, key: str, name: str) -> str:
    if by == "user":
        return name or key.split(":", 1)[1] or "(unknown)"
    if by == "channel":
        return f"#{name}"
    return name or "(unknown)"


def _filters(query: UsageQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [u.created_at >= query.since]
    if query.until is not None:
        where.append(u.created_at < query.until)
    exact: dict[str, Any] = {
        "platform": query.platform,
        "workspace_id": query.workspace_id,
        "channel_id": query.channel_id,
    }
    where.extend(u[name] == value for name, value in exact.items() if value is not None)
    if query.user is not None:
        who = query.user
        where.append(or_(u.user_id == who, func.lower(u.user_name) == who.lower()))
    return [and_(*where)]
