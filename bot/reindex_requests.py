"""`kb reindex` while the bot runs: the command hands its request to the bot through DATA_DIR.

Qdrant's local mode lets one process hold the index folder; the running bot holds it, so the
command line cannot open it. Rather than a second way in (an admin HTTP endpoint needs auth and
exists only under `run`, a Qdrant server is extra to operate), the two processes share what they
already share: DATA_DIR. The folder `DATA_DIR/requests/` is a tiny spool:

1. The command writes `<id>.json` (`{"paths": [absolute paths]}`) atomically (temp file, then
   rename) and waits.
2. The bot (`serve`, a background task whenever it holds a local index) looks every second,
   claims a request by renaming it to `<id>.taken` — one winner even with two bots, and the
   command can tell it was picked up — reindexes exactly as `kb reindex` would, and writes
   `<id>.result.json` (`{"text": report, "exit_code": n}`), again by rename.
3. The command prints the report and exits with its code. If nobody claims the request within
   `PICKUP_S` (no bot, or one too old to know the spool), it withdraws the request and says so.

Anyone who can write DATA_DIR can already rewrite the index and the database, so the spool adds
no new trust; paths are resolved by the command, against its own working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.logs import get_logger

log = get_logger(__name__)

PICKUP_S = 5.0
"""How long the command waits for a running bot to claim its request."""
POLL_S = 1.0
"""How often the bot looks for requests (one directory listing)."""

Reindex = Callable[[list[str]], Awaitable[tuple[str, int]]]
"""Runs a reindex of the paths (empty: the configured ones) → (report text, exit code)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    text: str
    exit_code: int


def spool(data_dir: Path) -> Path:
    return data_dir / "requests"


def _write_atomically(path: Path, data: dict[str, object]) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temp, path)


# --- the command's side (blocking; the CLI has no event loop of its own here) ---------------
def submit(data_dir: Path, paths: list[str]) -> str:
    """Queue a request for the running bot; returns its id."""
    folder = spool(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    request_id = uuid.uuid4().hex[:12]
    resolved = [str(Path(p).resolve()) for p in paths]
    _write_atomically(folder / f"{request_id}.json", {"paths": resolved})
    return request_id


def wait(
    data_dir: Path, request_id: str, *, pickup_s: float = PICKUP_S, poll_s: float = 0.1
) -> Result | None:
    """Block until the bot's result arrives; None (request withdrawn) when no bot claimed it."""
    folder = spool(data_dir)
    request, result = folder / f"{request_id}.json", folder / f"{request_id}.result.json"
    deadline = time.monotonic() + pickup_s
    while not result.exists():
        if request.exists() and time.monotonic() > deadline:
            with contextlib.suppress(FileNotFoundError):
                request.unlink()
                return None  # withdrawn before anyone claimed it
        time.sleep(poll_s)
    data = json.loads(result.read_text(encoding="utf-8"))
    result.unlink(missing_ok=True)
    return Result(text=str(data.get("text", "")), exit_code=int(data.get("exit_code", 1)))


# --- the bot's side -------------------------------------------------------------------------
async def serve(data_dir: Path, reindex: Reindex, *, poll_s: float = POLL_S) -> None:
    """Answer reindex requests until cancelled (a background task of the running bot)."""
    folder = spool(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        for request in sorted(folder.glob("*.json")):
            if request.name.endswith(".result.json"):
                continue
            await _answer(request, reindex)
        await asyncio.sleep(poll_s)


async def _answer(request: Path, reindex: Reindex) -> None:
    request_id = request.name.removesuffix(".json")
    taken = request.with_name(f"{request_id}.taken")
    try:
        os.replace(request, taken)  # claim it; whoever renames first answers
        paths = [str(p) for p in json.loads(taken.read_text(encoding="utf-8")).get("paths", [])]
    except FileNotFoundError:
        return  # withdrawn, or another process claimed it
    except (OSError, ValueError) as exc:
        text, code = f"Unreadable reindex request ({exc}).", 2
    else:
        log.info("reindex requested from the command line", paths=paths or "configured")
        try:
            text, code = await reindex(paths)
        except asyncio.CancelledError:
            _write_atomically(
                taken.with_name(f"{request_id}.result.json"),
                {
                    "text": "The bot stopped before the reindex finished; finished documents "
                    "are kept. Run the command again to resume.",
                    "exit_code": 130,
                },
            )
            taken.unlink(missing_ok=True)
            raise
        except Exception as exc:
            log.exception("reindex request failed", request=request_id)
            text, code = f"Reindex failed: {type(exc).__name__}: {exc}", 2
    _write_atomically(
        taken.with_name(f"{request_id}.result.json"), {"text": text, "exit_code": code}
    )
    taken.unlink(missing_ok=True)
