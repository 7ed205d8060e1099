"""What quotas and usage reports cost the database, over a month of usage records.

100,000 usage records (one per model call) spread over 30 days, 500 users, 50 channels, two
workspaces and five models, on SQLite (a temporary DATA_DIR) and, when one is running, a fresh
PostgreSQL database. Measured:
- the daily token budget check a question pays when QUOTA_USER_TOKENS_PER_DAY is set (one
  indexed SUM over the asker's records since midnight UTC);
- the same per channel (QUOTA_CHANNEL_TOKENS_PER_DAY);
- `usage month` for a whole workspace: the ledger's grouped totals folded into the report.
Each is run `ROUNDS` times after a warm-up; p50 and p99 in milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.bench_core import _fresh_database
from bot.logs import configure_logging
from bot.settings import Settings
from bot.usage.ledger import UsageQuery
from bot.usage.periods import period_start
from bot.usage.prices import PriceTable
from bot.usage.report import load_report
from storage import open_store
from storage.models import usage_records
from storage.usage import SqlUsageLedger

RECORDS, USERS, CHANNELS, ROUNDS = 100_000, 500, 50, 200
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5", "llama3.1")
NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def _rows(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for _ in range(RECORDS):
        user, channel = rng.randrange(USERS), rng.randrange(CHANNELS)
        model = rng.choice(MODELS)
        rows.append(
            {
                "memory_key": f"slack:T{channel % 2}:C{channel}:",
                "provider": "anthropic" if model.startswith("claude") else "openai",
                "model": model,
                "input_tokens": rng.randrange(200, 4000),
                "output_tokens": rng.randrange(20, 800),
                "created_at": NOW - timedelta(seconds=rng.uniform(0, 30 * 86400)),
                "platform": "slack",
                "workspace_id": f"T{channel % 2}",
                "channel_id": f"C{channel}",
                "user_id": f"U{user}",
                "user_name": f"user {user}",
                "cost_usd": None if model == "llama3.1" else rng.uniform(0, 0.01),
            }
        )
    return rows


async def _time(work: Callable[[], Awaitable[object]], rounds: int) -> list[float]:
    for _ in range(5):
        await work()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _measure(url: str) -> list[tuple[str, list[float]]]:
    store = await open_store(url)
    try:
        rows = _rows(random.Random(7))
        async with store.db.write() as conn:
            for i in range(0, len(rows), 5000):
                await conn.execute(usage_records.insert(), rows[i : i + 5000])
        ledger, prices = SqlUsageLedger(store.db), PriceTable()
        today = period_start("today", NOW)
        rng = random.Random(11)

        async def user_budget() -> int:
            user = f"U{rng.randrange(USERS)}"
            return await ledger.tokens_since(
                today, platform="slack", workspace_id="T0", user_id=user
            )

        async def channel_budget() -> int:
            channel = f"C{rng.randrange(0, CHANNELS, 2)}"
            return await ledger.tokens_since(
                today, platform="slack", workspace_id="T0", channel_id=channel
            )

        async def month_report() -> object:
            query = UsageQuery(
                since=period_start("month", NOW), platform="slack", workspace_id="T0"
            )
            return await load_report(ledger, query, prices, title="month")

        return [
            ("user token budget check", await _time(user_budget, ROUNDS)),
            ("channel token budget check", await _time(channel_budget, ROUNDS)),
            ("usage month, one workspace", await _time(month_report, 20)),
        ]
    finally:
        await store.close()


def _pct(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    configure_logging("WARNING", "console")
    print(f"{RECORDS:,} usage records, {USERS} users, {CHANNELS} channels, 30 days")
    print(f"{'database':<11} {'query':<30} {'runs':>5} {'p50 ms':>8} {'p99 ms':>8}")
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if os.environ.get("TEST_DATABASE_URL"):
        backends.append(("PostgreSQL", os.environ["TEST_DATABASE_URL"]))
    for backend, server in backends:
        with tempfile.TemporaryDirectory() as tmp:
            if server is None:
                url = Settings(_env_file=None, data_dir=Path(tmp)).sqlalchemy_url
            else:
                url = asyncio.run(_fresh_database(server))
            for name, samples in asyncio.run(_measure(url)):
                p50, p99 = statistics.median(samples), _pct(samples, 99)
                print(f"{backend:<11} {name:<30} {len(samples):>5} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
