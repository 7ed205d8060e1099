"""`python -m bot chat` as a user runs it: piped stdin, real SDKs, loopback LLM fakes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from storage import open_store

ROOT = Path(__file__).resolve().parents[2]


async def chat(lines: str, data_dir: Path, **env: str) -> tuple[str, str, int]:
    empty_docs = data_dir / "no-docs"
    empty_docs.mkdir(parents=True, exist_ok=True)
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ANTHROPIC_", "SLACK_", "DISCORD_", "TEAMS_", "LLM_"))
    }
    full_env |= {
        "DATA_DIR": str(data_dir),
        "KNOWLEDGE_PATHS": str(empty_docs),
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        cwd=data_dir,
        env=full_env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(lines.encode()), timeout=120)
    assert proc.returncode is not None
    return out.decode(), err.decode(), proc.returncode


def answers(stdout: str) -> list[str]:
    return [block.strip() for block in stdout.split("\n\n") if block.strip()]


async def test_openai_two_turns_with_memory(fake_openai, tmp_path) -> None:
    out, err, rc = await chat("My name is Ada.\nWhat is my name?\n", tmp_path, **fake_openai.env())
    assert rc == 0, err
    assert answers(out) == ["You said: My name is Ada.", "You said: What is my name?"]
    second = fake_openai.bodies[-1]
    texts = [m["content"] for m in second["messages"]]
    assert "My name is Ada." in texts and "You said: My name is Ada." in texts


async def test_anthropic_two_turns_with_memory(fake_anthropic, tmp_path) -> None:
    out, err, rc = await chat(
        "My name is Ada.\nWhat is my name?\n", tmp_path, **fake_anthropic.env()
    )
    assert rc == 0, err
    assert len(answers(out)) == 2
    flat = str(fake_anthropic.bodies[-1]["messages"])
    assert "My name is Ada." in flat and "You said: My name is Ada." in flat


async def test_fallback_to_anthropic_when_openai_fails(
    fake_openai, fake_anthropic, tmp_path
) -> None:
    fake_openai.script_error(500, times=20)
    env = fake_openai.env() | fake_anthropic.env() | {"LLM_PROVIDERS": "openai,anthropic"}
    out, err, rc = await chat("Hello there\n", tmp_path, **env)
    assert rc == 0, err
    assert answers(out) == ["You said: Hello there"]
    assert fake_anthropic.requests and fake_openai.requests


async def test_restart_keeps_the_conversation(fake_openai, tmp_path) -> None:
    await chat("My name is Ada.\n", tmp_path, **fake_openai.env())
    _, err, rc = await chat("What is my name?\n", tmp_path, **fake_openai.env())
    assert rc == 0, err
    texts = [m["content"] for m in fake_openai.bodies[-1]["messages"]]
    assert "My name is Ada." in texts


async def test_bad_input_blank_lines_and_too_long(fake_openai, tmp_path) -> None:
    long_line = "x" * 32_001
    out, err, rc = await chat(f"\n   \n{long_line}\nok?\n", tmp_path, **fake_openai.env())
    assert rc == 0, err
    replies = answers(out)
    assert len(replies) == 2
    assert "too long" in replies[0] and "32,000" in replies[0]
    assert replies[1] == "You said: ok?"
    assert len(fake_openai.requests) == 1


async def test_unreachable_model_gives_clear_message_and_keeps_the_question(tmp_path) -> None:
    env = {
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "x",
        "LLM_TIMEOUT_S": "2",
        "LLM_MAX_RETRIES": "1",
    }
    out, err, rc = await chat("Is anyone there?\n", tmp_path, **env)
    assert rc == 0, err
    assert "unavailable" in out.lower() and "Traceback" not in out + err
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    try:
        keys = ["console:local:console:"]
        history = await store.history(keys[0])
        assert [m.text for m in history if m.role == "user"] == ["Is anyone there?"]
    finally:
        await store.close()


async def test_nothing_configured_answers_plainly(tmp_path) -> None:
    out, err, rc = await chat("How do I add documents?\n", tmp_path)
    assert rc == 0, err
    assert "no language model is configured" in out.lower()
    assert "Traceback" not in out + err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
async def test_cli_help(argv, tmp_path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0 and b"usage" in out.lower()
