"""Usage on the console and the command line, against the fake Anthropic API through the real
SDK: every model call (answers and the query rewrite of a follow-up) is one usage record, and
`python -m bot usage --csv` adds up exactly what the API reported."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tests.cli.helpers import run_bot
from tests.fakes.anthropic_api import FakeAnthropic


@pytest.mark.slow  # three `python -m bot` processes
async def test_console_usage_and_the_cli_report_match_the_reported_usage(
    tmp_path: Path, fake_anthropic: FakeAnthropic
) -> None:
    env = {**fake_anthropic.env(), "ANTHROPIC_MODEL": "claude-3-5-haiku-latest"}
    questions = "What is the refund policy for annual plans?\nand for them?\nusage\n"
    chat = await run_bot("chat", data_dir=tmp_path, stdin=questions, wait_s=120, env=env)
    assert chat.rc == 0, chat.both
    reported = fake_anthropic.reported_usage
    assert len(reported) == 3  # two answers and the rewrite of "and for them?"
    total_in, total_out = sum(i for i, _ in reported), sum(o for _, o in reported)
    assert f"{total_in + total_out:,} tokens ({total_in:,} in, {total_out:,} out)" in chat.out

    result = await run_bot("usage", "week", "--csv", data_dir=tmp_path, wait_s=120, env=env)
    assert result.rc == 0, result.both
    rows = list(csv.DictReader(io.StringIO(result.out)))
    total = rows[0]
    assert total["dimension"] == "total" and int(total["calls"]) == 3
    assert (int(total["input_tokens"]), int(total["output_tokens"])) == (total_in, total_out)
    expected_cost = (total_in * 0.80 + total_out * 4.00) / 1e6  # claude-3-5-haiku
    assert abs(float(total["cost_usd"]) - expected_cost) < 1e-6
    [model] = [r for r in rows if r["dimension"] == "model"]
    assert model["key"] == "claude-3-5-haiku-latest"
    [provider] = [r for r in rows if r["dimension"] == "provider"]
    assert provider["key"] == "anthropic"

    bad = await run_bot("usage", "yesterday", data_dir=tmp_path, wait_s=120, env=env)
    assert bad.rc == 2 and "can't read “yesterday”" in bad.err
