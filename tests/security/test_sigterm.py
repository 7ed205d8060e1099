"""SIGTERM to a real `parley run` mid-stream against the fake Slack: /readyz turns not-ready at
once, new events are refused for retry, the half-written answer is finalized with a notice
within SHUTDOWN_GRACE_S and the process exits 0; a second SIGTERM exits at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import aiohttp

from tests.fakes.llm_fixtures import Hang
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi, SlackEventSender, event_envelope, message_event
from tests.security.test_kill_restart import SECRET, free_port, start, until

GRACE_S = 4.0


def environment(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI, port: int
) -> dict[str, str]:
    (tmp_path / "kb").mkdir(exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_"))}
    return keep | {
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
        "SHUTDOWN_GRACE_S": str(GRACE_S),
    }


async def ask_and_wait_for_text(fake_slack: FakeSlackApi, sender: SlackEventSender) -> None:
    message = fake_slack.user_message("C0GENERAL", f"<@{fake_slack.bot_user_id}> tell me")
    status, _ = await sender.event(event_envelope(message_event(message, kind="app_mention")))
    assert status == 200
    await until(lambda: any("Half an answer" in m.text for m in fake_slack.bot_messages()), 30)


async def test_sigterm_mid_stream_finalizes_the_answer_and_exits_within_the_grace(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    fake_openai.script(Hang(after_text="Half an answer that will never"))
    bot = await start(environment(tmp_path, fake_slack, fake_openai, port), port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with SlackEventSender(f"{base}/slack/events", SECRET) as sender:
            await ask_and_wait_for_text(fake_slack, sender)
            bot.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            async with aiohttp.ClientSession() as session:
                for _ in range(50):  # not ready at once (well before the grace ends)
                    async with session.get(f"{base}/readyz") as resp:
                        body = await resp.json()
                    if resp.status == 503 and body["checks"].get("shutdown") == "draining":
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("/readyz stayed ready after SIGTERM")
                async with session.get(f"{base}/healthz") as resp:
                    assert resp.status == 200  # alive while it drains
            late = fake_slack.user_message("C0GENERAL", f"<@{fake_slack.bot_user_id}> again")
            status, _ = await sender.event(event_envelope(message_event(late, kind="app_mention")))
            assert status == 503  # Slack delivers it again later, to the next process
        code = await asyncio.wait_for(bot.wait(), timeout=GRACE_S + 10)
        took = time.monotonic() - signalled
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert code == 0
    assert took < GRACE_S + 3, took
    [answer] = [m for m in fake_slack.bot_messages() if "Half an answer" in m.text]
    assert answer.text.startswith("Half an answer that will")
    assert "Parley is restarting" in answer.text
    assert len(fake_openai.requests) == 1 and len(fake_slack.bot_messages()) == 1  # late: not taken


async def test_a_second_sigterm_exits_at_once(
    tmp_path: Path, fake_slack: FakeSlackApi, fake_openai: FakeOpenAI
) -> None:
    port = free_port()
    fake_openai.script(Hang(after_text="Half an answer that will never"))
    bot = await start(environment(tmp_path, fake_slack, fake_openai, port), port)
    try:
        async with SlackEventSender(f"http://127.0.0.1:{port}/slack/events", SECRET) as sender:
            await ask_and_wait_for_text(fake_slack, sender)
        bot.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)  # the first one is being handled (draining)
        second = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(bot.wait(), timeout=GRACE_S)
        took = time.monotonic() - second
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert code == 128 + signal.SIGTERM
    assert took < 1.5, took
