"""`SqlPrivacy`: what the database holds about one person, exported or forgotten
(`forget-me`, `export-me`; docs/security.md lists every table).

A person is `(platform, user_id)`: user ids are unique per platform, and a person's rows in every
workspace of that platform are theirs.

Whose rows are whose:
- messages: those they wrote (`author_id`, in a conversation of their platform), and the bot's
  answers to their turns: a conversation's turns run one at a time, so the assistant messages
  that follow one of their questions, up to the next message that is not an assistant's, are the
  answer to it;
- summaries: a conversation's rolling summary was built from every message up to
  `summary_through_message_id`, so one that covers any of their messages is theirs in part;
- usage rows, approvals (`tool_approvals`, `paused_turns`, `approval_audit`) and the admin audit
  log name them as requester, decider or actor;
- processed event ids and job runs name nobody.

Forgetting is one transaction: their messages and the answers to them are deleted, a summary
built from any of them is dropped (the conversation's memory is rebuilt from what remains on its
next turn), a direct conversation left empty is deleted, and where a row only names them (usage,
approvals, audit) the name is replaced by one pseudonym per request ("forgotten-…", random, so
totals and the audit trail stay whole but lead back to nobody). A paused turn of theirs keeps its
prompt until it is decided: `pending_approvals` lets the caller refuse until then. Nothing that
belongs to someone else is touched.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.tools.approvals import TurnStatus
from bot.userdata import ForgetReport
from storage.approvals import approval_audit, paused_turns, tool_approvals
from storage.audit import admin_audit
from storage.db import Database
from storage.models import conversations, messages, usage_records

CHUNK = 500
"""Ids per `IN (…)`: well under SQLite's and PostgreSQL's parameter limits."""


def pseudonym() -> str:
    return f"forgotten-{secrets.token_hex(6)}"


class SqlPrivacy:
    """The `bot.userdata.UserData` on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- export --------------------------------------------------------------------------
    async def export(self, platform: str, user_id: str) -> dict[str, Any]:
        """Every stored row about the person, table by table, as JSON-ready dicts."""
        names = _names(platform, user_id)
        async with self._db.engine.connect() as conn:
            ids, keys = await _their_messages(conn, platform, user_id)
            out: dict[str, Any] = {
                "messages": await _rows(conn, messages, messages.c.id.in_(ids)),
                "conversations": await _rows(
                    conn, conversations, conversations.c.memory_key.in_(keys)
                ),
                "usage_records": await _rows(conn, usage_records, _usage_where(platform, names)),
                "paused_turns": await _rows(conn, paused_turns, _turns_where(platform, names)),
                "tool_approvals": await _rows(
                    conn, tool_approvals, _approvals_where(platform, names)
                ),
                "approval_audit": await _rows(
                    conn, approval_audit, _approval_audit_where(platform, names)
                ),
                "admin_audit": await _rows(conn, admin_audit, _admin_where(platform, names)),
            }
        return out

    async def pending_approvals(self, platform: str, user_id: str) -> list[str]:
        """Ids of approvals still waiting on a turn of theirs."""
        t, a = paused_turns.c, tool_approvals.c
        stmt = (
            select(a.id)
            .join(paused_turns, a.turn_id == t.turn_id)
            .where(
                t.platform == platform,
                t.author_id == user_id,
                t.status == TurnStatus.PAUSED.value,
                a.status == "pending",
            )
        )
        async with self._db.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    # --- forget --------------------------------------------------------------------------
    async def forget(self, platform: str, user_id: str) -> ForgetReport:
        names, alias = _names(platform, user_id), pseudonym()
        c = conversations.c
        async with self._db.write() as conn:
            ids, keys = await _their_messages(conn, platform, user_id)
            first_deleted = await _first_ids(conn, ids)
            for chunk in _chunks(ids):
                await conn.execute(delete(messages).where(messages.c.id.in_(chunk)))
            summaries = 0
            for key, first in first_deleted.items():
                stmt = (
                    update(conversations)
                    .where(c.memory_key == key, c.summary_through_message_id >= first)
                    .values(summary=None, summary_through_message_id=None)
                )
                summaries += (await conn.execute(stmt)).rowcount
            emptied = (
                delete(conversations)
                .where(c.memory_key.in_(keys), c.kind == "direct")
                .where(~select(messages.c.id).where(messages.c.memory_key == c.memory_key).exists())
            )
            removed = (await conn.execute(emptied)).rowcount if keys else 0
            anonymized = await _anonymize(conn, platform, names, alias)
        return ForgetReport(
            pseudonym=alias,
            messages=len(ids),
            summaries=summaries,
            conversations=removed,
            anonymized=anonymized,
        )


def _names(platform: str, user_id: str) -> tuple[str, str]:
    """The two ways rows name a person: the bare id and `platform:user_id`."""
    return user_id, f"{platform}:{user_id}"


async def _their_messages(
    conn: AsyncConnection, platform: str, user_id: str
) -> tuple[list[int], list[str]]:
    """Ids of their messages and of the answers to them, and the conversations those are in."""
    m, c = messages.c, conversations.c
    keys_stmt = (
        select(m.memory_key)
        .join(conversations, m.memory_key == c.memory_key)
        .where(c.platform == platform, m.author_id == user_id)
        .distinct()
    )
    keys = sorted((await conn.execute(keys_stmt)).scalars())
    ids: list[int] = []
    for chunk in _chunks(keys):
        stmt = (
            select(m.id, m.role, m.author_id)
            .where(m.memory_key.in_(chunk))
            .order_by(m.memory_key, m.id)
        )
        answering = False
        for id_, role, author_id in await conn.execute(stmt):
            if role != "assistant":
                answering = author_id == user_id and role == "user"
            if author_id == user_id or (role == "assistant" and answering):
                ids.append(id_)
    return ids, keys


async def _first_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[str, int]:
    """Per conversation, the oldest of `ids` (a summary through it or later includes it)."""
    m = messages.c
    first: dict[str, int] = {}
    for chunk in _chunks(ids):
        stmt = select(m.memory_key, func.min(m.id)).where(m.id.in_(chunk)).group_by(m.memory_key)
        for key, low in await conn.execute(stmt):
            first[key] = min(low, first.get(key, low))
    return first


def _usage_where(platform: str, names: tuple[str, str]) -> Any:
    u = usage_records.c
    return (u.platform == platform) & u.user_id.in_(names)


def _turns_where(platform: str, names: tuple[str, str]) -> Any:
    t = paused_turns.c
    return (t.platform == platform) & t.author_id.in_(names)


def _approvals_where(platform: str, names: tuple[str, str]) -> Any:
    a = tool_approvals.c
    return (a.platform == platform) & (a.requested_by.in_(names) | a.decided_by.in_(names))


def _approval_audit_where(platform: str, names: tuple[str, str]) -> Any:
    l, a = approval_audit.c, tool_approvals.c  # noqa: E741
    ours = select(a.id).where(a.platform == platform)
    return l.approval_id.in_(ours) & (l.requested_by.in_(names) | l.actor.in_(names))


def _admin_where(platform: str, names: tuple[str, str]) -> Any:
    d = admin_audit.c
    return (d.platform == platform) & (d.actor_id.in_(names) | d.target.in_(names))


async def _rows(conn: AsyncConnection, table: Table, where: Any) -> list[dict[str, Any]]:
    """Every column of the matching rows (none when `where` is None)."""
    if where is None:
        return []
    order = list(table.primary_key.columns)
    result = await conn.execute(select(table).where(where).order_by(*order))
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in result]


def _plain(value: Any) -> Any:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


async def _anonymize(
    conn: AsyncConnection, platform: str, names: tuple[str, str], alias: str
) -> int:
    """Replace their name in rows that only name them; the number of rows changed."""
    qualified = f"{platform}:{alias}"

    def as_named(column: Any) -> Any:
        """The pseudonym in the form the column used: bare id or `platform:user_id`."""
        return case((column == names[1], qualified), else_=alias)

    t, a, l, d = paused_turns.c, tool_approvals.c, approval_audit.c, admin_audit.c  # noqa: E741
    changed = 0
    statements = [
        update(approval_audit)
        .where(_approval_audit_where(platform, names), l.requested_by.in_(names))
        .values(requested_by=as_named(l.requested_by)),
        update(approval_audit)
        .where(_approval_audit_where(platform, names), l.actor.in_(names))
        .values(actor=as_named(l.actor)),
        update(tool_approvals)
        .where(a.platform == platform, a.requested_by.in_(names))
        .values(requested_by=as_named(a.requested_by), requester_name=""),
        update(tool_approvals)
        .where(a.platform == platform, a.decided_by.in_(names))
        .values(decided_by=as_named(a.decided_by), decided_by_name=""),
        # A decided turn's saved prompt is their conversation: it goes with it.
        update(paused_turns)
        .where(_turns_where(platform, names), t.status != TurnStatus.PAUSED.value)
        .values(author_id=alias, author_name="", messages=[], done=[]),
        update(admin_audit)
        .where(d.platform == platform, d.actor_id.in_(names))
        .values(actor_id=as_named(d.actor_id)),
        update(admin_audit)
        .where(d.platform == platform, d.target.in_(names))
        .values(target=as_named(d.target)),
    ]
    u = usage_records.c
    statements.append(
        update(usage_records)
        .where(_usage_where(platform, names))
        .values(user_id=as_named(u.user_id), user_name="")
    )
    for stmt in statements:
        changed += (await conn.execute(stmt)).rowcount
    return changed


T = TypeVar("T")


def _chunks(items: Iterable[T]) -> Iterable[list[T]]:
    listed = list(items)
    for start in range(0, len(listed), CHUNK):
        yield listed[start : start + CHUNK]
