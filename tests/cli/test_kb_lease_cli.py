"""Two processes, one database: `python -m bot kb reindex` while another process holds the
reindex lease is refused with who runs one and how far it is, and runs once the lease is free
(the run is then the last reindex every process shows)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.ports import LastReindex
from bot.settings import Settings
from storage import open_store
from storage.kb_admin import SqlReindexLease
from tests.cli.helpers import run_bot
from tests.core.kb_rig import write_corpus


async def test_command_line_reindex_waits_its_turn_across_processes(tmp_path: Path) -> None:
    url = Settings(_env_file=None, data_dir=tmp_path / "shared").sqlalchemy_url
    corpus = write_corpus(tmp_path / "corpus", 2)
    store = await open_store(url)
    try:
        lease = SqlReindexLease(store.db)
        assert await lease.acquire("bot-run", actor="Ada (slack:U1)", target="") is None
        await lease.heartbeat("bot-run", {"documents": 4.0, "documents_total": 10.0})

        busy = await run_bot(
            "kb", "reindex", "--quiet", str(corpus), data_dir=tmp_path / "cli", DATABASE_URL=url
        )
        assert busy.rc == 2, busy.both
        assert "A reindex is already running: every source, started by Ada (slack:U1)" in busy.err
        assert "4/10 documents" in busy.err

        assert await lease.last() is None
        holder = await lease.holder()
        assert holder is not None and holder.run_id == "bot-run"
        await lease.release(
            "bot-run",
            LastReindex(
                actor="Ada (slack:U1)",
                target="",
                finished_at=datetime.now(UTC),
                outcome="ok",
                headline="",
            ),
        )
        done = await run_bot(
            "kb", "reindex", "--quiet", str(corpus), data_dir=tmp_path / "cli", DATABASE_URL=url
        )
        assert done.rc == 0, done.both
        assert "2 indexed" in done.out
        last = await lease.last()
        assert last is not None and (last.actor, last.outcome) == ("command line", "ok")
        assert "2 added" in last.headline
    finally:
        await store.close()
