"""`kb reindex PATH` while the bot runs on a local index: the bot does the reindex for the command,
and the new document answers the next question in the running chat."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import pytest

from bot import reindex_requests
from tests.cli.helpers import bot_env, run_bot

pytestmark = pytest.mark.slow


async def test_kb_reindex_while_the_chat_runs(tmp_path) -> None:
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        cwd=tmp_path,
        env=bot_env(tmp_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert bot.stdin is not None
    try:
        # The bot serves requests once it holds the index.
        await asyncio.to_thread(_wait_for, reindex_requests.spool(tmp_path), 20)
        handbook = tmp_path / "handbook"
        handbook.mkdir()
        (handbook / "leave.md").write_text(
            "# Leave\n\nHolidays are booked in the Zanzibar portal before March.\n"
        )
        result = await run_bot("kb", "reindex", "--quiet", str(handbook), data_dir=tmp_path)
        assert result.rc == 0, result.both
        assert "asking it to reindex" in result.err and "1 added" in result.out
        bot.stdin.write(b"Where are holidays booked? Zanzibar portal\n")
        bot.stdin.close()
        out, err = await asyncio.wait_for(bot.communicate(), 20)
    finally:
        if bot.returncode is None:
            bot.kill()
            await bot.wait()
    assert bot.returncode == 0, err
    assert "Zanzibar portal" in out.decode() and "leave.md" in out.decode()


def _wait_for(path, within: float) -> None:
    deadline = time.monotonic() + within
    while not path.is_dir():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_no_running_bot_withdraws_the_request(tmp_path) -> None:
    request_id = reindex_requests.submit(tmp_path, ["docs"])
    assert reindex_requests.wait(tmp_path, request_id, pickup_s=0.2) is None
    assert list(reindex_requests.spool(tmp_path).iterdir()) == []


async def test_failed_files_come_back_with_the_exit_code(tmp_path) -> None:
    seen: list[list[str]] = []

    async def reindex(paths: list[str]) -> tuple[str, int]:
        seen.append(paths)
        return "Reindex finished: 1 errors.\nError: a.pdf: unreadable", 1

    server = asyncio.create_task(reindex_requests.serve(tmp_path, reindex, poll_s=0.05))
    results: list[reindex_requests.Result | None] = []
    try:
        request_id = reindex_requests.submit(tmp_path, ["relative/docs"])
        waiter = threading.Thread(
            target=lambda: results.append(reindex_requests.wait(tmp_path, request_id))
        )
        waiter.start()
        await asyncio.to_thread(waiter.join, 10)
    finally:
        server.cancel()
    [result] = results
    assert result is not None and result.exit_code == 1 and "a.pdf" in result.text
    assert seen[0][0].endswith("/relative/docs") and seen[0][0].startswith("/")
