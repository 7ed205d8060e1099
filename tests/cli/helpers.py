"""Run `python -m bot …` as a user does: a subprocess with its own environment and DATA_DIR."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_CLEARED = ("OPENAI_", "ANTHROPIC_", "SLACK_", "DISCORD_", "TEAMS_", "LLM_", "QDRANT_", "LOG_")


@dataclass(frozen=True)
class Result:
    out: str
    err: str
    rc: int

    @property
    def both(self) -> str:
        return self.out + self.err


def bot_env(data_dir: Path, **env: str) -> dict[str, str]:
    """A clean environment: no real keys, no indexing (an empty knowledge folder and the
    hashing embedder, which needs no model load) unless a test sets them."""
    docs = data_dir / "no-docs"
    docs.mkdir(parents=True, exist_ok=True)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CLEARED) and k not in ("DATABASE_URL", "KNOWLEDGE_PATHS")
    }
    return base | {
        "DATA_DIR": str(data_dir),
        "KNOWLEDGE_PATHS": str(docs),
        "EMBEDDING_MODEL": "hashing",
        "HF_HUB_OFFLINE": "1",
        "PORT": "0",
        "HOST": "127.0.0.1",
        **env,
    }


async def run_bot(
    *args: str,
    data_dir: Path,
    stdin: str = "",
    cwd: Path | None = None,
    wait_s: float = 30,
    env: Mapping[str, str] | None = None,
    **variables: str,
) -> Result:
    """`python -m bot *args` in `bot_env` plus `env` and `variables` (`LOG_LEVEL="DEBUG"`). A
    prepared mapping goes in `env`: spread as keywords, its names could be taken for `cwd`,
    `wait_s`, … as far as the type checker can tell."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd or data_dir,
        env=bot_env(data_dir, **(dict(env or {}) | variables)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=wait_s)
    assert proc.returncode is not None
    return Result(out.decode(), err.decode(), proc.returncode)


def read_until(fd: int, needle: bytes, seen: bytearray, within: float, start: int = 0) -> int:
    """Read the terminal into `seen` until `needle` shows up at or after `start`; returns the
    index just past it (the `start` for the next expectation)."""
    deadline = time.monotonic() + within
    while (at := seen.find(needle, start)) < 0:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never came; terminal showed:\n{seen.decode()}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError as exc:  # the child closed the terminal
                raise AssertionError(f"{needle!r} never came:\n{seen.decode()}") from exc
            seen.extend(chunk)
    return at + len(needle)


def spawn_in_terminal(
    tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.Popen[bytes], int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=bot_env(tmp_path, **({"TERM": "dumb"} | env)),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
        preexec_fn=_own_terminal,  # Ctrl-C typed into the terminal becomes SIGINT for the bot
    )
    os.close(slave)
    return proc, master


def drain(fd: int, seen: bytearray) -> None:
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        seen.extend(chunk)


def _own_terminal() -> None:
    """In the child: a new session whose controlling terminal is the pty on stdin."""
    import fcntl
    import termios

    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
