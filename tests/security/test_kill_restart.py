"""`kill -9` of a bot process mid-stream, then a restart: the half-written Slack message is
finalized with the interrupted notice soon after start-up."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from tests.fakes.llm_fixtures import Hang
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi, SlackEventSender, event_envelope, message_event

SECRET = "kill-test-signing-secret"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise AssertionError("the bot did not start")


async def until(condition: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"not within {within}s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_kill_9_mid_stream_then_restart_shows_the_notice(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    (tmp_path / "kb").mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_", "ANTHROPIC"))
    } | {
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "DATA_DIR": str(tmp_path / "data"),
        "KNOWLEDGE_PATHS": str(tmp_path / "kb"),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "FIRST_POST_WAIT_S": "0.2",
    }
    fake_openai.script(Hang(after_text="Half an answer that will never"))
    bot = await start(env, port)
    try:
        message = fake_slack.user_message("C0GENERAL", f"<@{fake_slack.bot_user_id}> tell me")
        async with SlackEventSender(f"http://127.0.0.1:{port}/slack/events", SECRET) as sender:
            status, _ = await sender.event(
                event_envelope(message_event(message, kind="app_mention"))
            )
        assert status == 200
        await until(lambda: any("Half an answer" in m.text for m in fake_slack.bot_messages()), 30)
        await asyncio.sleep(3.0)  # the row saves the message's id within 2 s
    finally:
        bot.send_signal(signal.SIGKILL)
        await bot.wait()
    [half] = [m for m in fake_slack.bot_messages() if "Half an answer" in m.text]
    assert "interrupted" not in half.text

    def shown() -> str:
        found = fake_slack.find("C0GENERAL", half.ts)
        return found.text if found else ""

    bot = await start(env, port)
    try:
        took = await until(lambda: "interrupted" in shown(), within=10.0)
    finally:
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
    assert shown().startswith("Half an answer that will")  # as shown (the last word held back)
    assert took < 10.0
