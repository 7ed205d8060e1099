"""SIGTERM to `parley chat` (stdin a pipe) while an answer streams: the console prints the
answer finalized with the restarting notice and exits 0, like every other adapter."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from tests.cli.helpers import bot_env
from tests.fakes.llm_fixtures import Hang
from tests.fakes.openai_api import FakeOpenAI


async def test_sigterm_during_a_console_answer_finalizes_it(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Hang(after_text="Half an answer that will never"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        cwd=tmp_path,
        env=bot_env(tmp_path / "data", **fake_openai.env(), SHUTDOWN_GRACE_S="3"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"tell me everything\n")
        await proc.stdin.drain()  # stdin stays open: the console waits for more
        async with asyncio.timeout(30):
            while not fake_openai.requests:  # noqa: ASYNC110 (another process fills it)
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the stream has begun, then stalls
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert "Parley is restarting" in out.decode()
