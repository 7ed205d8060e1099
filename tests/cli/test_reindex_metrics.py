"""The first index moves the reindex series (documents done/total, runs, file errors)."""

from __future__ import annotations

from bot import metrics
from bot.app import Parley
from bot.settings import Settings


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_first_index_records_progress_and_outcome(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(3):
        (docs / f"p{n}.md").write_text(f"# Page {n}\n\nSome text about topic {n}.\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not a pdf")
    runs = sample("parley_reindex_runs_total", outcome="errors")
    file_errors = sample("parley_reindex_file_errors_total")
    settings = Settings(
        _env_file=None, data_dir=tmp_path, knowledge_paths=(str(docs),), embedding_model="hashing"
    )
    app = Parley(settings)
    try:
        await app.start(http=False)
        await app.wait_indexed()
    finally:
        await app.stop()
    assert sample("parley_reindex_documents", state="total") == 4
    assert sample("parley_reindex_documents", state="done") == 4
    assert sample("parley_reindex_runs_total", outcome="errors") == runs + 1
    assert sample("parley_reindex_file_errors_total") == file_errors + 1
