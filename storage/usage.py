"""`SqlUsageLedger`: the `bot.usage.ledger.UsageLedger` over `usage_records` (one row per LLM
call, written by `SqlStore.record_usage`; attribution columns since revision 0006).

Reports add up in SQL per (platform, workspace, channel, user, provider, model), so what comes
back is bounded by the number of distinct groups, not of calls; the report folds those groups
into its dimensions in Python. The budget check is one indexed SUM.
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

    async def groups(self, query: UsageQuery) -> list[UsageGroup]:
        unpriced = u.cost_usd.is_(None)
        keys = (u.platform, u.workspace_id, u.channel_id, u.user_id, u.provider, u.model)
        stmt = (
            select(
                *keys,
                func.max(u.user_name),
                func.count(),
                func.coalesce(func.sum(u.input_tokens), 0),
                func.coalesce(func.sum(u.output_tokens), 0),
                func.coalesce(func.sum(u.cost_usd), 0.0),
                func.coalesce(func.sum(case((unpriced, u.input_tokens), else_=0)), 0),
                func.coalesce(func.sum(case((unpriced, u.output_tokens), else_=0)), 0),
            )
            .where(*_filters(query))
            .group_by(*keys)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            UsageGroup(
                platform=platform,
                workspace_id=workspace_id,
                channel_id=channel_id,
                user_id=user_id,
                user_name=user_name or "",
                provider=provider,
                model=model,
                calls=int(calls),
                input_tokens=int(input_tokens),
                output_tokens=int(output_tokens),
                cost_usd=float(cost),
                unpriced_input_tokens=int(unpriced_in),
                unpriced_output_tokens=int(unpriced_out),
            )
            for (
                platform,
                workspace_id,
                channel_id,
                user_id,
                provider,
                model,
                user_name,
                calls,
                input_tokens,
                output_tokens,
                cost,
                unpriced_in,
                unpriced_out,
            ) in rows
        ]

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
