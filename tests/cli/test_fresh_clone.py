"""On a fresh clone, `cp .env.example .env && make run` opens the console chat; empty variables in
the environment switch nothing on either."""

from __future__ import annotations

import shutil

import pytest

from tests.cli.helpers import ROOT, run_bot

pytestmark = pytest.mark.slow

NO_LLM = "No language model is configured"


async def test_copied_env_example_opens_the_console_chat(tmp_path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = await run_bot("run", data_dir=tmp_path, stdin="hello\n")
    assert result.rc == 0, result.err
    assert (
        "no chat platform is configured" in result.err and "Starting the console chat" in result.err
    )
    assert NO_LLM in result.out  # no provider was switched on by an empty key


async def test_empty_variables_in_the_environment_are_unset(tmp_path) -> None:
    empty = {
        name: ""
        for name in (
            "SLACK_BOT_TOKEN",
            "SLACK_APP_TOKEN",
            "DISCORD_BOT_TOKEN",
            "TEAMS_APP_ID",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "DATABASE_URL",
            "QDRANT_URL",
            "PORT",
            "LOG_LEVEL",
        )
    }
    result = await run_bot("run", data_dir=tmp_path, stdin="hello\n", env=empty)
    assert result.rc == 0, result.err
    assert "Starting the console chat" in result.err and NO_LLM in result.out
    assert "Traceback" not in result.err
