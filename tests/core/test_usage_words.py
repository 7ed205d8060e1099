"""The `usage` words, the price table and the report's arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.grammar import USAGE_REPORT, parse
from bot.usage.ledger import UsageGroup
from bot.usage.periods import next_day, period_start
from bot.usage.prices import PriceTable
from bot.usage.report import UsageRequest, build_report, parse_request, render_csv


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], UsageRequest()),
        (["week"], UsageRequest(period="week")),
        (["MONTH", "<@U123|ada>"], UsageRequest(period="month", user="U123")),
        (["<@!4242>", "today"], UsageRequest(user="4242")),
        (["@Ada"], UsageRequest(user="Ada")),
        (["#C0GENERAL"], UsageRequest(channel="C0GENERAL")),
        (["<#C0GENERAL|general>", "week"], UsageRequest(period="week", channel="C0GENERAL")),
    ],
)
def test_usage_words(words: list[str], expected: UsageRequest) -> None:
    assert parse_request(words) == expected


@pytest.mark.parametrize("words", [["yesterday"], ["@a", "@b"], ["@a", "#c"], ["@"]])
def test_usage_words_that_are_wrong_say_how_to_write_them(words: list[str]) -> None:
    with pytest.raises(ValueError, match=r"Usage: `usage \[today\|week\|month\]"):
        parse_request(words)


def test_typed_usage_is_a_command_only_when_well_formed() -> None:
    assert parse("usage week", typed=True) == parse("usage week", typed=False)
    assert parse("usage", typed=True) is not None
    assert parse("usage of the VPN?", typed=True) is None  # a question
    wrong = parse("usage of the VPN?", typed=False)
    assert wrong is not None and wrong.name == USAGE_REPORT  # its handler explains


def test_prices_by_longest_prefix_and_overrides() -> None:
    prices = PriceTable({"llama3": (0.0, 0.0), "gpt-4o": (2.0, 8.0)})
    assert prices.cost("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert prices.cost("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(2.0)  # overridden
    assert prices.cost("claude-sonnet-4-5-20250929", 1000, 1000) == pytest.approx(0.018)
    assert prices.cost("claude-opus-4-5", 1_000_000, 0) == pytest.approx(5.0)
    assert prices.cost("claude-opus-4-1-20250805", 1_000_000, 0) == pytest.approx(15.0)
    assert prices.cost("llama3.1:8b", 5000, 5000) == 0.0
    assert prices.cost("mistral-small", 5000, 5000) is None  # unknown: no price, not $0


def test_periods_in_utc() -> None:
    now = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # a Wednesday
    assert period_start("today", now) == datetime(2026, 12, 2, tzinfo=UTC)
    assert period_start("week", now) == datetime(2026, 11, 30, tzinfo=UTC)
    assert period_start("month", now) == datetime(2026, 12, 1, tzinfo=UTC)
    assert next_day(now) == datetime(2026, 12, 3, tzinfo=UTC)


def _group(
    dimension: str, key: str, model: str, tokens: int, cost: float, unpriced: int = 0
) -> UsageGroup:
    return UsageGroup(
        dimension=dimension,
        key=key,
        label=key,
        model=model,
        calls=1,
        input_tokens=tokens,
        output_tokens=0,
        cost_usd=cost,
        unpriced_input_tokens=unpriced,
        unpriced_output_tokens=0,
    )


def test_report_adds_up_and_never_hides_unpriced_tokens() -> None:
    calls = [  # (user, model, tokens, recorded cost, tokens without a recorded cost)
        ("slack:U1", "gpt-4o", 1000, 0.0025, 0),
        ("slack:U1", "gpt-4o", 2000, 0.0, 2000),  # an old record: priced with today's table
        ("slack:U2", "mystery-model", 500, 0.0, 500),  # no price at all
    ]
    groups = {
        "user": [_group("user", u, m, t, c, x) for u, m, t, c, x in calls],
        "model": [_group("model", m, m, t, c, x) for _, m, t, c, x in calls],
    }
    report = build_report(groups, PriceTable(), title="t")
    assert report.total.tokens == 3500
    assert report.total.cost_usd == pytest.approx(0.0075)
    assert report.total.unpriced_tokens == 500
    assert [(line.key, line.tokens, line.calls) for line in report.by["user"]] == [
        ("slack:U1", 3000, 2),
        ("slack:U2", 500, 1),
    ]
    lines = render_csv(report).splitlines()
    assert lines[0].startswith("dimension,key,label,calls")
    assert lines[1] == "total,total,total,3,3500,0,0.007500,500"
