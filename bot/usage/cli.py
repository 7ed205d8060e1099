"""`python -m bot usage [today|week|month] [@user|#channel] [--csv]`: the usage report of every
workspace, from the bot's database (the operator's view; the chat command scopes it to the
asker, or for admins to their workspace). Text by default, CSV with `--csv` (one row per
dimension and key, a `total` row first)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.settings import Settings
from bot.usage.periods import period_start, utc_now
from bot.usage.prices import PriceTable
from bot.usage.report import (
    UsageRequest,
    load_report,
    parse_request,
    period_title,
    render_csv,
    render_text,
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    usage = sub.add_parser(
        "usage", help="tokens and estimated cost by user, channel, model and provider"
    )
    usage.add_argument(
        "words",
        nargs="*",
        metavar="today|week|month|@user|#channel",
        help="the period (default today) and at most one user or channel id",
    )
    usage.add_argument("--csv", action="store_true", help="CSV instead of text")
    usage.set_defaults(handler=usage_command)


def usage_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = parse_request(args.words)
    except ValueError as exc:
        print(f"parley usage: {exc}".replace("`", ""), file=sys.stderr)
        return 2
    print(asyncio.run(_report(settings, request, as_csv=args.csv)), end="")
    return 0


async def _report(settings: Settings, request: UsageRequest, *, as_csv: bool) -> str:
    from bot.usage.ledger import UsageQuery
    from storage import open_store
    from storage.usage import SqlUsageLedger

    since = period_start(request.period, utc_now())
    query = UsageQuery(since=since, user=request.user, channel_id=request.channel)
    title = period_title(request.period, since, request.target or "every workspace")
    store = await open_store(settings.sqlalchemy_url)
    try:
        ledger = SqlUsageLedger(store.db)
        report = await load_report(ledger, query, PriceTable(settings.llm_prices), title=title)
    finally:
        await store.close()
    return render_csv(report) if as_csv else render_text(report, limit=50).replace("**", "") + "\n"
