"""The terminal chat: readline line editing and history, and Ctrl-C during an answer cancels it."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.cli.helpers import drain, read_until, spawn_in_terminal
from tests.fakes.llm_fixtures import Text

pytestmark = pytest.mark.slow

LEFT, UP, CTRL_C, CTRL_D = b"\x1b[D", b"\x1b[A", b"\x03", b"\x04"


class Terminal:
    def __init__(self, tmp_path, **env: str) -> None:
        self.proc, self.fd = spawn_in_terminal(tmp_path, "chat", TERM="xterm", **env)
        self.seen = bytearray()
        self.cursor = 0
        """Where the last expected text ended; the next one must come after it."""

    async def expect(self, text: str, within: float = 20) -> None:
        self.cursor = await asyncio.to_thread(
            read_until, self.fd, text.encode(), self.seen, within, self.cursor
        )

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    async def quit(self) -> int:
        self.type(CTRL_D)
        rc = await asyncio.to_thread(self.proc.wait, 20)
        drain(self.fd, self.seen)
        return rc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        os.close(self.fd)

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace")


async def test_arrow_keys_edit_the_line_and_recall_history(fake_openai, tmp_path) -> None:
    term = Terminal(tmp_path, **fake_openai.env())
    try:
        await term.expect("you> ")
        term.type(b"wrld" + LEFT * 3 + b"o\r")
        await term.expect("You said: world")
        await term.expect("you> ")
        term.type(UP + b"\r")
        await term.expect("You said: world")
        await term.expect("you> ")
        assert await term.quit() == 0
    finally:
        term.close()
    asked = [b["messages"][-1]["content"] for b in fake_openai.bodies]
    assert asked.count("world") == 2, asked  # typed once, edited; then recalled with ↑
    assert "^[[" not in term.text
    assert (tmp_path / "console_history").read_text().strip().endswith("world")


async def test_ctrl_c_during_an_answer_says_cancelled_and_returns_to_the_prompt(
    fake_openai, tmp_path
) -> None:
    fake_openai.script(Text("word " * 200, chunks=100, delay_s=0.1))
    term = Terminal(tmp_path, **fake_openai.env())
    try:
        await term.expect("you> ")
        term.type(b"tell me a long story\r")
        await term.expect("word word")
        term.type(CTRL_C)
        await term.expect("cancelled")
        await term.expect("you> ")
        term.type(b"still there?\r")
        await term.expect("You said: still there?")
        await term.expect("you> ")
        assert await term.quit() == 0
    finally:
        term.close()
    assert "restarting" not in term.text and "Traceback" not in term.text


async def test_ctrl_c_at_the_prompt_quits_cleanly(tmp_path) -> None:
    term = Terminal(tmp_path)
    try:
        await term.expect("you> ")
        term.type(CTRL_C)
        assert await asyncio.to_thread(term.proc.wait, 20) == 0
        drain(term.fd, term.seen)
    finally:
        term.close()
    assert "Traceback" not in term.text
