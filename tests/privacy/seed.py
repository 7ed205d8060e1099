"""Rows about two people in every table that can name one: Ada (slack U0ADA) and Bob (slack
U0BOB), plus a Discord user who happens to have Ada's id. Each person's texts carry a marker
("ada-secret-…", "bob-…"), so a test can look for them in every column of every table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert, select

from bot.ports import AdminAction, Summary
from bot.refs import Author, ConversationKind, ConversationRef
from storage import SqlStore
from storage.approvals import approval_audit, paused_turns, tool_approvals
from storage.audit import SqlAuditLog, admin_audit
from storage.models import conversations, messages, usage_records

ADA, BOB = Author(id="U0ADA", display_name="Ada"), Author(id="U0BOB", display_name="Bob")
CHANNEL = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1")
ADA_DM = ConversationRef(
    platform="slack", workspace_id="T1", channel_id="D0ADA", kind=ConversationKind.DIRECT
)
BOB_DM = ConversationRef(
    platform="slack", workspace_id="T1", channel_id="D0BOB", kind=ConversationKind.DIRECT
)
DISCORD = ConversationRef(platform="discord", workspace_id="G1", channel_id="C9")
TABLES: tuple[Table, ...] = (
    conversations,
    messages,
    usage_records,
    paused_turns,
    tool_approvals,
    approval_audit,
    admin_audit,
)


async def seed(store: SqlStore) -> None:
    say = store.add_message
    await say(CHANNEL, role="user", text="ada-secret-1 what is the VPN?", author=ADA)
    await say(CHANNEL, role="assistant", text="ada-answer-1 use WireGuard")
    await say(CHANNEL, role="user", text="bob-1 and the printer?", author=BOB)
    await say(CHANNEL, role="assistant", text="bob-answer-1 second floor")
    through = await say(CHANNEL, role="thread", text="ada-secret-2 quoted in a thread", author=ADA)
    await say(CHANNEL, role="user", text="bob-2 thanks", author=BOB)
    await say(CHANNEL, role="assistant", text="bob-answer-2 you're welcome")
    await store.save_summary(
        CHANNEL.memory_key, Summary(text="Someone asked about the VPN.", through_message_id=through)
    )
    await say(ADA_DM, role="user", text="ada-secret-3 my salary?", author=ADA)
    await say(ADA_DM, role="assistant", text="ada-answer-3 ask HR")
    await say(BOB_DM, role="user", text="bob-3 hello", author=BOB)
    await say(BOB_DM, role="assistant", text="bob-answer-3 hi Bob")
    discord_ada = Author(id=ADA.id, display_name="Other")
    await say(DISCORD, role="user", text="discord-1 not the same person", author=discord_ada)
    await store.record_usage(CHANNEL, provider="p", model="m", input_tokens=3, output_tokens=4)

    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    ref_cols = {
        "platform": "slack",
        "workspace_id": "T1",
        "channel_id": "C1",
        "thread_id": None,
        "kind": "channel",
        "route": "",
    }
    turns = [
        {"turn_id": "turn-ada", "author_id": ADA.id, "author_name": "Ada", "status": "resumed",
         "messages": [{"role": "user", "content": "ada-secret-4 post it"}]},
        {"turn_id": "turn-bob", "author_id": BOB.id, "author_name": "Bob", "status": "resumed",
         "messages": [{"role": "user", "content": "bob-4 schedule it"}]},
    ]  # fmt: skip
    approvals = [
        # Ada asked, Bob approved; Bob asked, Ada denied.
        {"id": "a" * 16, "turn_id": "turn-ada", "requested_by": "slack:U0ADA",
         "requester_name": "Ada", "decided_by": "slack:U0BOB", "decided_by_name": "Bob",
         "status": "approved", "args_preview": '{"body": "hi"}'},
        {"id": "b" * 16, "turn_id": "turn-bob", "requested_by": "slack:U0BOB",
         "requester_name": "Bob", "decided_by": "slack:U0ADA", "decided_by_name": "Ada",
         "status": "denied", "args_preview": '{"text": "bob-5"}'},
    ]  # fmt: skip
    events = [
        ("a" * 16, "requested", "slack:U0ADA", "slack:U0ADA"),
        ("a" * 16, "approved", "slack:U0ADA", "slack:U0BOB"),
        ("b" * 16, "requested", "slack:U0BOB", "slack:U0BOB"),
        ("b" * 16, "denied", "slack:U0BOB", "slack:U0ADA"),
    ]
    async with store.db.write() as conn:
        for turn in turns:
            values = {**ref_cols, "step": 1, "done": [], "created_at": now, **turn}
            await conn.execute(insert(paused_turns).values(**values))
        for approval in approvals:
            values = {
                **ref_cols,
                "tool_call_id": "call-" + approval["id"][:4],
                "tool": "http_request",
                "args_hash": "h",
                "reason": "",
                "created_at": now,
                "expires_at": later,
                "decided_at": now,
                **approval,
            }
            await conn.execute(insert(tool_approvals).values(**values))
        for approval_id, event, requested_by, actor in events:
            await conn.execute(
                insert(approval_audit).values(
                    approval_id=approval_id,
                    event=event,
                    tool="http_request",
                    requested_by=requested_by,
                    args_hash="h",
                    actor=actor,
                    at=now,
                )
            )
    audit = SqlAuditLog(store.db)
    for actor, action in ((ADA.id, "kb status"), (BOB.id, "kb reindex")):
        await audit.record(
            AdminAction(
                platform="slack",
                workspace_id="T1",
                channel_id="C1",
                actor_id=actor,
                action=action,
                result="ok",
            )
        )


async def dump(store: SqlStore) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table that can name a person, as dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with store.engine.connect() as conn:
        for table in TABLES:
            rows = await conn.execute(select(table))
            out[table.name] = [dict(row._mapping) for row in rows]
    return out


def mentions(row: dict[str, Any], *needles: str) -> bool:
    return any(needle in str(value) for value in row.values() for needle in needles)
