"""The console shows only the conversation; `run` keeps library chatter at WARNING; json logs
when stdout is not a terminal."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from tests.cli.helpers import bot_env, drain, read_until, run_bot, spawn_in_terminal

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"\[(debug|info|warning|error)\s*\]|\"level\":|\"event\":|alembic|httpx")
NO_LLM_ANSWER = "No language model is configured"


async def test_piped_chat_prints_answers_and_no_log_lines(tmp_path) -> None:
    result = await run_bot("chat", data_dir=tmp_path, stdin="hello\n", LOG_LEVEL="DEBUG")
    assert result.rc == 0, result.err
    assert NO_LLM_ANSWER in result.out
    assert not LOG_LINE.search(result.out + result.err), result.out + result.err
    log_file = tmp_path / "logs" / "parley.log"
    assert "adapter started" in log_file.read_text()  # the lines went to the file instead


def test_terminal_chat_shows_only_the_conversation(tmp_path) -> None:
    proc, master = spawn_in_terminal(tmp_path, "chat", LOG_LEVEL="DEBUG")
    seen = bytearray()
    try:
        at = read_until(master, b"you> ", seen, 20)
        os.write(master, b"hello\n")
        at = read_until(master, NO_LLM_ANSWER.encode(), seen, 20, at)
        read_until(master, b"you> ", seen, 20, at)  # the next prompt: readline reads again
        os.write(master, b"\x04")  # Ctrl-D: end of input
        assert proc.wait(timeout=20) == 0
        drain(master, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert NO_LLM_ANSWER in text
    assert not LOG_LINE.search(text), text
    assert "Traceback" not in text


async def _run_until_started(tmp_path: Path, fake_slack, **env: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=bot_env(
            tmp_path,
            SLACK_BOT_TOKEN=fake_slack.token,
            SLACK_SIGNING_SECRET="signing-secret-value",
            SLACK_API_URL=fake_slack.api_url,
            **env,
        ),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(20):
            while not any("adapter started" in line for line in lines):
                line = (await proc.stderr.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, "".join(lines)
    return "".join(lines) + rest.decode()


async def test_run_keeps_library_chatter_quiet_and_logs_json_when_piped(
    fake_slack, tmp_path
) -> None:
    err = await _run_until_started(tmp_path, fake_slack)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records, err
    names = {r["logger"] for r in records if r["level"] in ("debug", "info")}
    assert all(n.split(".")[0] in ("bot", "adapters", "knowledge", "storage") for n in names), names
    assert "token will be unused" not in err
    assert any(r["event"] == "adapter started" for r in records)


async def test_run_with_debug_shows_library_lines(fake_slack, tmp_path) -> None:
    err = await _run_until_started(tmp_path, fake_slack, LOG_LEVEL="DEBUG", LOG_FORMAT="console")
    assert "alembic" in err and "[debug" in err
    assert "token will be unused" not in err
