"""Knowledge admin on the console, as an operator runs it (`python -m bot chat` with piped
stdin): the console operator is an admin; a reindex's progress message ends as its summary
before the next line is read, and status, sources and cancel answer."""

from __future__ import annotations

from pathlib import Path

from tests.core.kb_rig import write_corpus
from tests.core.test_console_chat import chat


async def test_kb_commands_on_the_console(fake_openai, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", 3)
    lines = "kb reindex\nkb status\nkb sources\nkb cancel\nkb add /etc\n"
    out, err, rc = await chat(
        lines,
        tmp_path,
        KNOWLEDGE_PATHS=str(corpus),
        EMBEDDING_MODEL="hashing-256",
        **fake_openai.env(),
    )
    assert rc == 0, err
    summary = out.index("Reindex of every source finished.")
    assert "0 added, 0 changed, 0 removed, 0 failed, 3 unchanged" in out[summary:]
    status = out.index("Documents: 3, chunks: 3")
    assert summary < status  # the run ended before `kb status` was read
    assert "No reindex is running." in out
    assert "Last reindex:" in out and "every source by" in out
    assert f"• `{corpus}` (KNOWLEDGE_PATHS): 3 documents, last indexed" in out
    assert "outside the folders chat may add from" in out
    assert fake_openai.requests == []  # commands, not questions
