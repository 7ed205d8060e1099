"""Usage records on SQLite and PostgreSQL: revision 0006 backfills who and where on records
written before it (their cost then comes from today's price table), and the ledger's totals
and budget sums filter by period, workspace, user and channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from bot.refs import Author, ConversationRef
from bot.usage.ledger import UsageQuery
from bot.usage.prices import PriceTable
from bot.usage.report import load_report
from storage import SqlStore, open_store
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import usage_records
from storage.usage import SqlUsageLedger

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = "slack:T1:C1:"


async def test_0006_backfills_place_and_asker_of_older_records(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO conversations (memory_key, platform, workspace_id, channel_id,"
                    " kind, route, input_tokens, output_tokens, created_at, updated_at)"
                    " VALUES (:k, 'slack', 'T1', 'C1', 'channel', '', 0, 0, :t, :t)"
                ),
                {"k": KEY, "t": T0},
            )
            messages = [
                (1, "user", "U_ADA", "Ada", T0),
                (2, "assistant", "", "", T0 + timedelta(seconds=2)),
                (3, "user", "U_BOB", "Bob", T0 + timedelta(minutes=5)),
            ]
            for id_, role, author, name, at in messages:
                await conn.execute(
                    text(
                        "INSERT INTO messages (id, memory_key, role, author_id, author_name,"
                        " text, status, created_at, updated_at)"
                        " VALUES (:id, :k, :role, :a, :n, 'x', 'final', :t, :t)"
                    ),
                    {"id": id_, "k": KEY, "role": role, "a": author, "n": name, "t": at},
                )
            for at, tokens in (
                (T0 + timedelta(seconds=2), 1000),
                (T0 + timedelta(minutes=6), 3000),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO usage_records (memory_key, provider, model, input_tokens,"
                        " output_tokens, created_at) VALUES (:k, 'openai', 'gpt-4o', :i, 0, :t)"
                    ),
                    {"k": KEY, "i": tokens, "t": at},
                )
    finally:
        await engine.dispose()

    store = await open_store(db_url)  # upgrades to the newest revision
    try:
        async with store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        usage_records.c.platform,
                        usage_records.c.workspace_id,
                        usage_records.c.channel_id,
                        usage_records.c.user_id,
                        usage_records.c.user_name,
                        usage_records.c.cost_usd,
                    ).order_by(usage_records.c.id)
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("slack", "T1", "C1", "U_ADA", "Ada", None),
            ("slack", "T1", "C1", "U_BOB", "Bob", None),
        ]
        query = UsageQuery(since=T0 - timedelta(days=1))
        report = await load_report(SqlUsageLedger(store.db), query, PriceTable(), title="t")
        assert report.total.cost_usd == 4000 * 2.50 / 1e6  # gpt-4o input, at today's price
        assert [(line.label, line.tokens) for line in report.by["user"]] == [
            ("Bob", 3000),
            ("Ada", 1000),
        ]
    finally:
        await store.close()


async def test_ledger_filters_and_budget_sums(store: SqlStore) -> None:
    ledger = SqlUsageLedger(store.db)
    c1 = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1")
    c2 = ConversationRef(platform="slack", workspace_id="T1", channel_id="C2")
    other = ConversationRef(platform="slack", workspace_id="T2", channel_id="C1")
    ada, bob = Author(id="U1", display_name="Ada"), Author(id="U2", display_name="Bob")
    yesterday, today = T0 - timedelta(days=1), T0
    for ref, who, tokens, at in (
        (c1, ada, 10, yesterday),
        (c1, ada, 20, today),
        (c2, ada, 40, today),
        (c1, bob, 80, today),
        (other, ada, 160, today),
    ):
        await store.record_usage(
            ref,
            provider="openai",
            model="m",
            input_tokens=tokens,
            output_tokens=1,
            user=who,
            cost_usd=0.5,
            at=at,
        )
    since = today.replace(hour=0)
    sums = {
        "ada in T1": await ledger.tokens_since(
            since, platform="slack", workspace_id="T1", user_id="U1"
        ),
        "C1 in T1": await ledger.tokens_since(
            since, platform="slack", workspace_id="T1", channel_id="C1"
        ),
    }
    assert sums == {"ada in T1": 20 + 1 + 40 + 1, "C1 in T1": 20 + 1 + 80 + 1}
    by_name = UsageQuery(since=since, platform="slack", workspace_id="T1", user="ada")
    channels = await ledger.groups(by_name, by="channel")
    assert sorted((g.key, g.label, g.input_tokens) for g in channels) == [
        ("slack:C1", "#C1", 20),
        ("slack:C2", "#C2", 40),
    ]
    everything = await load_report(ledger, UsageQuery(since=yesterday), PriceTable(), title="t")
    assert everything.total.calls == 5 and everything.total.cost_usd == 2.5
    assert [(line.label, line.calls) for line in everything.by["user"]] == [("Ada", 4), ("Bob", 1)]
    assert [(line.key, line.calls) for line in everything.by["provider"]] == [("openai", 5)]
