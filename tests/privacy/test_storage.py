"""`forget` and `export` on SQLite and PostgreSQL, over rows about two people in every table
that can name one: forgetting Ada leaves no row that names her or holds her words, and leaves
every row that is only Bob's exactly as it was; Ada's export holds every row about her and
nothing that is only Bob's."""

from __future__ import annotations

from typing import Any

from storage import SqlStore
from storage.privacy import SqlPrivacy
from tests.privacy.seed import ADA, ADA_DM, BOB, CHANNEL, dump, mentions, seed

ADA_MARKS = ("U0ADA", "ada-secret", "ada-answer", "Ada")


def _slack(table: str, row: dict[str, Any]) -> bool:
    """Rows of the Slack person (the Discord user with the same id is someone else)."""
    key = row.get("memory_key")
    return not (isinstance(key, str) and key.startswith("discord:"))


async def test_forget_removes_every_row_of_that_user_and_nothing_of_others(
    store: SqlStore,
) -> None:
    await seed(store)
    before = await dump(store)
    report = await SqlPrivacy(store.db).forget("slack", ADA.id)
    after = await dump(store)

    left = [
        (table, row)
        for table, rows in after.items()
        for row in rows
        if _slack(table, row) and mentions(row, *ADA_MARKS)
    ]
    assert left == []
    # Every row that named only others is untouched, Bob's answers included (the conversations
    # Ada took part in change: checked below).
    hers = {CHANNEL.memory_key, ADA_DM.memory_key}
    for table, rows in before.items():
        for row in rows:
            if mentions(row, *ADA_MARKS) or (
                table == "conversations" and row["memory_key"] in hers
            ):
                continue
            assert row in after[table], (table, row)
    texts = [m["text"] for m in after["messages"]]
    assert texts == [
        "bob-1 and the printer?",
        "bob-answer-1 second floor",
        "bob-2 thanks",
        "bob-answer-2 you're welcome",
        "bob-3 hello",
        "bob-answer-3 hi Bob",
        "discord-1 not the same person",
    ]
    # The shared channel stays, without the summary built from Ada's words; her DM is gone.
    keys = {c["memory_key"]: c for c in after["conversations"]}
    assert keys[CHANNEL.memory_key]["summary"] is None
    assert ADA_DM.memory_key not in keys
    # One pseudonym stands for her wherever a row only named her.
    approvals = {a["id"]: a for a in after["tool_approvals"]}
    alias = report.pseudonym
    assert approvals["a" * 16]["requested_by"] == f"slack:{alias}"
    assert approvals["a" * 16]["decided_by"] == "slack:U0BOB"
    assert approvals["b" * 16]["decided_by"] == f"slack:{alias}"
    assert approvals["b" * 16]["requested_by"] == "slack:U0BOB"
    assert {r["actor_id"] for r in after["admin_audit"]} == {alias, BOB.id}
    assert (report.messages, report.summaries, report.conversations) == (5, 1, 1)
    turns = {t["turn_id"]: t for t in after["paused_turns"]}
    assert turns["turn-ada"]["messages"] == [] and turns["turn-ada"]["author_id"] == alias
    assert turns["turn-bob"]["messages"] == [{"role": "user", "content": "bob-4 schedule it"}]


async def test_export_holds_every_stored_row_of_the_user(store: SqlStore) -> None:
    await seed(store)
    everything = await dump(store)
    exported = await SqlPrivacy(store.db).export("slack", ADA.id)

    def ids(rows: list[dict[str, Any]], key: str) -> set[Any]:
        return {row[key] for row in rows}

    primary = {
        "messages": "id",
        "conversations": "memory_key",
        "paused_turns": "turn_id",
        "tool_approvals": "id",
        "approval_audit": "id",
        "admin_audit": "id",
    }
    for table, key in primary.items():
        about_ada = [r for r in everything[table] if _slack(table, r) and mentions(r, "U0ADA")]
        assert ids(about_ada, key) <= ids(exported[table], key), table
    texts = [m["text"] for m in exported["messages"]]
    assert texts == [
        "ada-secret-1 what is the VPN?",
        "ada-answer-1 use WireGuard",
        "ada-secret-2 quoted in a thread",
        "ada-secret-3 my salary?",
        "ada-answer-3 ask HR",
    ]
    assert not any(mentions(m, "bob", "discord") for m in exported["messages"])
    assert ids(exported["admin_audit"], "actor_id") == {ADA.id}
    assert ids(exported["paused_turns"], "turn_id") == {"turn-ada"}
    # Both approvals name her: one she asked for, one she decided.
    assert ids(exported["tool_approvals"], "id") == {"a" * 16, "b" * 16}
    assert isinstance(exported["messages"][0]["created_at"], str)


async def test_pending_approvals_hold_forgetting(store: SqlStore) -> None:
    await seed(store)
    privacy = SqlPrivacy(store.db)
    assert await privacy.pending_approvals("slack", ADA.id) == []
    from sqlalchemy import update

    from storage.approvals import paused_turns, tool_approvals

    async with store.db.write() as conn:
        await conn.execute(
            update(paused_turns).where(paused_turns.c.turn_id == "turn-ada").values(status="paused")
        )
        await conn.execute(
            update(tool_approvals)
            .where(tool_approvals.c.id == "a" * 16)
            .values(status="pending", decided_by=None, decided_by_name="", decided_at=None)
        )
    assert await privacy.pending_approvals("slack", ADA.id) == ["a" * 16]
    assert await privacy.pending_approvals("slack", BOB.id) == []
