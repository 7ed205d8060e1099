"""The usage report: tokens and estimated cost by user, channel, model and provider.

    usage [today|week|month] [@user|#channel]

`parse_request` reads those words (the chat command and `python -m bot usage` share them);
`load_report` asks the ledger for each dimension's totals and `build_report` prices them; `render_text`
and `render_csv` show it. Records without a stored cost (older than revision 0006) are priced
with the current table; tokens of a model with no price at all are counted and shown as
unpriced, so a total is never a silent under-estimate.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.usage.ledger import DIMENSIONS, UsageGroup, UsageLedger, UsageQuery
from bot.usage.periods import PERIODS
from bot.usage.prices import PriceTable

USAGE_WORDS = "`usage [today|week|month] [@user|#channel]`"


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRequest:
    period: str = "today"
    user: str | None = None
    """A user id or display name (`@…`)."""
    channel: str | None = None
    """A channel id (`#…`); `#here` is resolved by the caller."""

    @property
    def target(self) -> str:
        return f"@{self.user}" if self.user else f"#{self.channel}" if self.channel else ""


def parse_request(words: Sequence[str]) -> UsageRequest:
    """`[today|week|month] [@user|#channel]` in any order; ValueError says what is wrong."""
    period, user, channel = "today", None, None
    for word in words:
        lowered = word.lower()
        if lowered in PERIODS:
            period = lowered
        elif (name := _mention(word, "@")) is not None and user is None and channel is None:
            user = name
        elif (name := _mention(word, "#")) is not None and user is None and channel is None:
            channel = name
        else:
            raise ValueError(f"I can't read “{word}”. Usage: {USAGE_WORDS}")
    return UsageRequest(period=period, user=user, channel=channel)


def _mention(word: str, sigil: str) -> str | None:
    """`@U123`, `<@U123>`, `<@!123>`, `<@U123|ada>` (and the same with `#`) → the id or name."""
    inner = word[1:-1] if word.startswith("<") and word.endswith(">") else word
    if not inner.startswith(sigil) or len(inner) < 2:
        return None
    name = inner[1:].lstrip("!").split("|", 1)[0]
    return name or None


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    key: str
    label: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_tokens: int = 0
    """Tokens of models that have no price (not in `cost_usd`)."""

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Line) -> Line:
        return Line(
            key=self.key,
            label=self.label,
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced_tokens=self.unpriced_tokens + other.unpriced_tokens,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport:
    title: str
    total: Line
    by: dict[str, tuple[Line, ...]]
    """"user", "channel", "model", "provider" → lines, most tokens first."""


def build_report(
    groups: Mapping[str, Iterable[UsageGroup]], prices: PriceTable, *, title: str
) -> UsageReport:
    """`groups`: the ledger's groups per dimension ("model" is required: the total is its sum)."""
    by: dict[str, tuple[Line, ...]] = {}
    for dimension, found in groups.items():
        lines: dict[str, Line] = {}
        for group in found:
            line = _line(group, prices)
            lines[group.key] = lines[group.key].add(line) if group.key in lines else line
        by[dimension] = tuple(sorted(lines.values(), key=lambda line: (-line.tokens, line.label)))
    total = Line(key="total", label="total")
    for line in by["model"]:
        total = total.add(line)
    return UsageReport(title=title, total=total, by=by)


async def load_report(
    ledger: UsageLedger,
    query: UsageQuery,
    prices: PriceTable,
    *,
    title: str,
    dimensions: Sequence[str] = DIMENSIONS,
) -> UsageReport:
    """The report of `query` over `dimensions` (and "model", for the total)."""
    wanted = dict.fromkeys([*dimensions, "model"])
    groups = {d: await ledger.groups(query, by=d) for d in wanted}
    return build_report(groups, prices, title=title)


def _line(group: UsageGroup, prices: PriceTable) -> Line:
    """The group as a line: its recorded cost, plus its records without one at today's price;
    tokens no price covers are counted apart."""
    cost, unpriced = group.cost_usd, 0
    late_in, late_out = group.unpriced_input_tokens, group.unpriced_output_tokens
    if late_in or late_out:
        late = prices.cost(group.model, late_in, late_out)
        if late is None:
            unpriced = late_in + late_out
        else:
            cost += late
    return Line(
        key=group.key,
        label=group.label,
        calls=group.calls,
        input_tokens=group.input_tokens,
        output_tokens=group.output_tokens,
        cost_usd=cost,
        unpriced_tokens=unpriced,
    )


def period_title(period: str, since: datetime, scope: str) -> str:
    words = {"today": "today", "week": "this week", "month": "this month"}[period]
    return f"Usage {words} (since {since:%a %d %b %Y} 00:00 UTC), {scope}"


def _money(line: Line) -> str:
    places = 2 if line.cost_usd >= 1 else 4 if line.cost_usd >= 0.01 else 6
    shown = f"${line.cost_usd:,.{places}f}"
    if line.unpriced_tokens:
        return f"{shown} + {line.unpriced_tokens:,} unpriced tokens"
    return shown


def render_text(
    report: UsageReport, *, dimensions: Sequence[str] = DIMENSIONS, limit: int = 10
) -> str:
    total = report.total
    lines = [f"**{report.title}**"]
    if not total.calls:
        lines.append("No model calls recorded.")
        return "\n".join(lines)
    lines.append(
        f"{total.tokens:,} tokens ({total.input_tokens:,} in, {total.output_tokens:,} out) in "
        f"{total.calls:,} model calls, ≈ {_money(total)}"
    )
    for dimension in dimensions:
        found = report.by.get(dimension, ())
        lines.append(f"\n**By {dimension}**")
        for line in found[:limit]:
            lines.append(
                f"• {line.label}: {line.tokens:,} tokens, {line.calls:,} calls, ≈ {_money(line)}"
            )
        if len(found) > limit:
            lines.append(
                f"• … and {len(found) - limit} more (`python -m bot usage --csv` lists all)"
            )
    return "\n".join(lines)


CSV_HEADER = (
    "dimension",
    "key",
    "label",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "unpriced_tokens",
)


def render_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for dimension, line in [("total", report.total)] + [
        (d, line) for d in DIMENSIONS for line in report.by.get(d, ())
    ]:
        writer.writerow(
            (
                dimension,
                line.key,
                line.label,
                line.calls,
                line.input_tokens,
                line.output_tokens,
                f"{line.cost_usd:.6f}",
                line.unpriced_tokens,
            )
        )
    return out.getvalue()
