"""Knowledge end to end as a user runs it: `kb reindex` a folder, `kb search` it, then `chat`
answers with [n] citations naming the right files (real packaged embeddings, fake OpenAI)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.core.test_console_chat import answers, chat
from tests.fakes.llm_fixtures import Text

pytestmark = pytest.mark.real_embeddings

DOCS = {
    "runbook.md": "# Rotating API keys\n\nTo rotate an API key, run `parley-admin rotate-key "
    "--service billing`. The old key stays valid for 24 hours.\n\n## Errors\n\nError ERR-4471 "
    "means the key vault is locked; ask the security team to unseal it.\n",
    "lunch.html": "<html><head><title>Office lunch</title><script>track()</script></head><body>"
    "<nav>Home | About</nav><h1>Lunch</h1><p>Lunch is served at noon in the cafeteria on the "
    "third floor. Vegetarian meals are available every day.</p></body></html>",
    "planning.txt": "The quarterly planning meeting happens on the first Monday of each quarter "
    "in the large conference room.\n",
}


async def kb(data_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env |= {"DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "kb",
        *args,
        cwd=data_dir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


async def test_reindex_search_and_cited_chat(fake_openai, corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await kb(data, "reindex", str(corpus))

    def top_hit(output: str) -> str:
        return next(line for line in output.splitlines() if line.lstrip().startswith("1."))

    assert "runbook.md" in top_hit(await kb(data, "search", "ERR-4471"))  # sparse: exact identifier
    paraphrase = await kb(data, "search", "when do we eat in the middle of the day")
    assert "lunch.html" in top_hit(paraphrase)  # dense: no word in common with the answer

    fake_openai.script(Text("Run `parley-admin rotate-key --service billing` [1]. See also [7]."))
    out, err, rc = await chat(
        "How do I rotate the billing key?\n", data, KNOWLEDGE_PATHS=str(corpus), **fake_openai.env()
    )
    assert rc == 0, err
    [reply] = answers(out.replace("\n\nSources:", "\nSources:"))
    assert "[1]" in reply and "[7]" not in reply
    assert "Sources:" in reply and "runbook.md" in reply.split("Sources:")[1]
    # Passages are data in the question's message, not next to the instructions.
    prompt = fake_openai.bodies[-1]["messages"][-1]["content"]
    assert (
        '<passage id="1"' in prompt
        and "runbook.md" in prompt
        and "parley-admin rotate-key" in prompt
    )


async def test_nothing_found_is_said_plainly(fake_openai, corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await kb(data, "reindex", str(corpus))
    _, err, rc = await chat(
        "What is the airspeed velocity of an unladen swallow?\n",
        data,
        KNOWLEDGE_PATHS=str(corpus),
        **fake_openai.env(),
    )
    assert rc == 0, err
    system = fake_openai.bodies[-1]["messages"][0]["content"]
    assert "knowledge base has nothing on this question" in system and "<passage id=" not in system
