"""Knowledge-base fixtures: Qdrant local mode on tmp paths, a deterministic embedder, corpora."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from bot.settings import Settings, load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.embedding import HashingEmbedder


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "embedding_model": "hashing-256",
        }
        values.update(overrides)
        return load_settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(256)


@pytest.fixture
async def kb(settings: Settings, embedder: HashingEmbedder) -> AsyncIterator[KnowledgeBase]:
    base = await open_knowledge_base(settings, embedder=embedder, schedule=False, min_score=0.05)
    base.config = replace(base.config, batch_chunks=4)
    yield base
    await base.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "slack.md").write_text(
        "# Slack setup\n\nCreate a Slack app and copy the bot token into SLACK_BOT_TOKEN.\n\n"
        "## Errors\n\nError E4711 means the signing secret does not match.\n"
    )
    (root / "guides" / "billing.md").write_text(
        "# Billing\n\nInvoices are sent on the first day of every month by email.\n"
    )
    (root / "cooking.txt").write_text(
        "Boil the pasta for nine minutes, then drain it and add the tomato sauce.\n"
    )
    (root / "page.html").write_text(
        "<html><head><title>Holidays</title><script>alert('x')</script></head><body>"
        "<nav>Home | About</nav><h1>Holidays</h1><p>Employees get twenty five vacation days "
        "per year.</p></body></html>"
    )
    return root


def write_pdf(path: Path, pages: list[str]) -> None:
    """A minimal valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            f"<< /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
