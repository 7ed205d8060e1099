"""A first start says what it is doing (the first index) before the banner; later starts don't."""

from __future__ import annotations

import os

import pytest

from tests.cli.helpers import drain, read_until, spawn_in_terminal

pytestmark = pytest.mark.slow

BANNER = b"Parley console. Type a message"


def start_and_quit(tmp_path, docs) -> str:
    proc, master = spawn_in_terminal(tmp_path, "chat", KNOWLEDGE_PATHS=str(docs))
    seen = bytearray()
    try:
        read_until(master, b"you> ", seen, 20)
        os.write(master, b"\x04")
        assert proc.wait(timeout=20) == 0
        drain(master, seen)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return seen.decode(errors="replace")


def test_first_index_shows_progress_then_the_banner(tmp_path) -> None:
    docs = tmp_path / "handbook"
    docs.mkdir()
    for n in range(3):
        (docs / f"page{n}.md").write_text(
            f"# Page {n}\n\n" + "Holidays are booked in the portal. " * 40
        )
    first = start_and_quit(tmp_path, docs)
    assert first.index("Starting Parley") < first.index("Indexing the knowledge base")
    assert first.index("Indexed 3 documents") < first.index(BANNER.decode()) < first.index("you> ")
    again = start_and_quit(tmp_path, docs)
    assert "Indexing" not in again and BANNER.decode() in again, repr(again)
