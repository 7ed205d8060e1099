"""`python -m bot chat` with piped input: the card is printed, a typed `/approve <id>` decides,
the approved HTTP POST reaches its (allowlisted, loopback) host exactly once, the answer continues."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from tests.fakes.llm_fixtures import Call, ToolCalls
from tests.tools.conftest import HITS


async def test_piped_console_approval(fake_openai: Any, hook: TestServer, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{hook.port}/hook"
    fake_openai.script(
        ToolCalls(
            [Call("http_request", {"url": url, "method": "POST", "body": "hello"})],
            reason="I'll post that to the hook.",
        )
    )
    docs = tmp_path / "no-docs"
    docs.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "SLACK_", "DISCORD_", "TEAMS_", "LLM_"))
    }
    env |= fake_openai.env() | {
        "DATA_DIR": str(tmp_path),
        "KNOWLEDGE_PATHS": str(docs),
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        "HTTP_TOOL_ALLOWED_HOSTS": "127.0.0.1",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"Please post hello to the hook\n")
        await proc.stdin.drain()
        before = ""
        while (found := re.search(r"/approve ([0-9a-f]{16})", before)) is None:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
            assert line, f"no approval card; output so far:\n{before}"
            before += line.decode()
        assert hook.app[HITS] == []  # nothing ran before the decision
        proc.stdin.write(f"/approve {found.group(1)}\n".encode())
        await proc.stdin.drain()
        proc.stdin.close()
        rest, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    after = rest.decode()
    assert proc.returncode == 0, err.decode()
    assert "Waiting for approval to run http_request" in before
    assert "I'll post that to the hook." in before and '"method": "POST"' in before
    assert "Approved by" in after
    assert "HTTP 200 OK" in after and "stored" in after
    assert hook.app[HITS] == ["hello"]
