"""`export-me` and `forget-me` in `python -m bot chat` (piped stdin, the fake OpenAI API): the
export is a file under DATA_DIR/exports holding the conversation, forget-me asks first, and
after `forget-me confirm` the database holds none of it and a new export is empty."""

from __future__ import annotations

import getpass
import json
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.settings import Settings
from storage import open_store
from storage.models import messages
from tests.core.test_console_chat import answers, chat
from tests.fakes.openai_api import FakeOpenAI


def _read(path: Path) -> tuple[int, dict[str, Any]]:
    document: dict[str, Any] = json.loads(path.read_text())
    return stat.S_IMODE(path.stat().st_mode), document


async def test_console_export_then_forget(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    lines = "My name is Ada.\n/export-me\n/forget-me\n/forget-me confirm\n/export-me\n"
    out, err, rc = await chat(lines, tmp_path, **fake_openai.env())
    assert rc == 0, err
    said, exported, asked, press, done, again = answers(out)
    assert said == "You said: My name is Ada."
    assert exported.startswith("Your data export is in ")
    first = Path(exported.removeprefix("Your data export is in ").strip())
    assert first.parent == tmp_path / "exports"
    mode, document = _read(first)
    assert mode == 0o600
    assert document["user"] == {"platform": "console", "id": getpass.getuser()}
    assert [m["text"] for m in document["tables"]["messages"]] == [
        "My name is Ada.",
        "You said: My name is Ada.",
    ]
    assert "cannot be undone" in asked and "forget-me confirm" in press
    assert done.startswith("Done: I deleted 2 messages")

    second = Path(again.removeprefix("Your data export is in ").strip())
    assert second != first
    assert _read(second)[1]["tables"]["messages"] == []
    store = await open_store(Settings(data_dir=tmp_path).sqlalchemy_url)
    try:
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(messages))).all() == []
    finally:
        await store.close()
