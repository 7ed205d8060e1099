"""Teams delivery end to end on the fake Bot Connector: a 1:1 native stream, and 20 concurrent
answers in one channel.

The whole bot runs (`bot.app.Parley`, HTTP server, activities POSTed to `/api/messages`, the real
Teams adapter with botbuilder's CloudAdapter and ConnectorClient, the delivery engine, SQLite)
against the loopback fakes of the Bot Connector (`tests/fakes/teams_connector.py`, which enforces
7 / 1 s, 60 / 30 s and 1,800 / h per conversation and one stream chunk per second, answering 429
otherwise) and OpenAI (`tests/fakes/openai_api.py`, streamed answers).

Time is compressed by SCALE so a run takes seconds: every window, the stream pace and the least
time between edits are divided by SCALE in the fake and in the adapter's capabilities alike, and
an answer that streams for 30 s streams for 3 s. Reported times are multiplied back by SCALE,
i.e. shown in Teams seconds.

Measured, ROUNDS times with the two scenarios interleaved (medians, and the spread):
- mean interval between visible updates: conversation-wide and per reply (stream chunks, posts,
  updates and final messages count; typing indicators do not show text and are counted apart);
- calls per reply (every write, typing included), 429s the fake returned, time to first visible
  text, and when the last answer was final.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp

from adapters.teams.adapter import TeamsAdapter, teams_capabilities
from adapters.teams.auth import TeamsAuth
from bot.app import Parley
from bot.settings import Settings
from tests.fakes.llm_fixtures import Text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.teams_connector import FakeConnector

SCALE = 10.0
ROUNDS = 3
ANSWER_CHARS = 3000
STREAM_S = 30.0


def _answer(i: int) -> str:
    words = [f"w{i}x{n:04d}" for n in range(ANSWER_CHARS // 8)]
    return "\n".join(" ".join(words[k : k + 12]) for k in range(0, len(words), 12))[:ANSWER_CHARS]


async def _run(scenario: str) -> dict[str, Any]:
    streams = 1 if scenario == "1:1 stream" else 20
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeConnector(time_scale=1 / SCALE, stream_interval_s=1 / SCALE) as fake,
            FakeOpenAI() as llm,
        ):
            adapter = TeamsAdapter(
                TeamsAuth(allow_anonymous=True),
                capabilities=teams_capabilities(window_scale=1 / SCALE),
            )
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                host="127.0.0.1",
                port=0,
                log_level="ERROR",
                teams_allow_anonymous=True,
                **llm.settings_overrides(),
            )
            app = Parley(settings, adapters=[adapter], load_platforms=False, knowledge=False)
            await app.start()
            try:
                url = f"http://127.0.0.1:{app.http_port}/api/messages"
                async with aiohttp.ClientSession() as session:
                    await _warm_up(fake, session, url, app, adapter)
                    chunks = 60
                    for i in range(streams):
                        llm.script(
                            Text(_answer(i), chunks=chunks, delay_s=STREAM_S / SCALE / chunks)
                        )
                    channel = fake.channel()
                    if streams == 1:
                        activities = [fake.inbound(fake.personal_chat(), "question")]
                    else:
                        activities = [
                            fake.inbound(channel, f"question {i}", mention=True, user=f"29:u{i}")
                            for i in range(streams)
                        ]
                    asked = {str(a["conversation"]["id"]): time.monotonic() for a in activities}
                    started = time.monotonic()
                    await asyncio.gather(*(session.post(url, json=a) for a in activities))
                    while True:
                        while adapter._tasks:
                            await asyncio.wait(set(adapter._tasks))
                        await app.settled()
                        if not adapter._tasks:
                            break
                    elapsed = time.monotonic() - started
            finally:
                await app.stop()
            return _metrics(fake, asked, elapsed)


async def _warm_up(
    fake: FakeConnector,
    session: aiohttp.ClientSession,
    url: str,
    app: Parley,
    adapter: TeamsAdapter,
) -> None:
    """One short answer first, so imports, connections and SQLite are warm; then a clean slate."""
    await session.post(url, json=fake.inbound(fake.group_chat(), "warm up", mention=True))
    while adapter._tasks:
        await asyncio.wait(set(adapter._tasks))
    await app.settled()
    fake.calls.clear()


def _metrics(fake: FakeConnector, asked: dict[str, float], elapsed: float) -> dict[str, Any]:
    visible: dict[str, list[float]] = defaultdict(list)
    first_text: dict[str, float] = {}
    writes = 0
    for call in fake.calls:
        if call.conversation_id not in asked:
            continue
        writes += 1
        shows_text = bool(call.body.get("text")) and 200 <= call.status < 300
        if shows_text:
            visible[call.conversation_id].append(call.at)
            first_text.setdefault(call.conversation_id, call.at - asked[call.conversation_id])
    everywhere = sorted(t for ts in visible.values() for t in ts)
    wide_gaps = [b - a for a, b in itertools.pairwise(everywhere)]
    reply_gaps = [b - a for ts in visible.values() for a, b in itertools.pairwise(ts)]
    return {
        "wide_interval_s": statistics.mean(wide_gaps) * SCALE if wide_gaps else 0.0,
        "reply_interval_s": statistics.mean(reply_gaps) * SCALE if reply_gaps else 0.0,
        "calls_per_reply": writes / len(asked),
        "rate_limited": len(fake.rate_limited),
        "first_text_mean_s": statistics.mean(first_text.values()) * SCALE,
        "first_text_max_s": max(first_text.values()) * SCALE,
        "answered": len(first_text),
        "replies": len(asked),
        "elapsed_s": elapsed * SCALE,
        "wall_s": elapsed,
    }


def _cell(rounds: list[dict[str, Any]], key: str, fmt: str = ".2f", unit: str = " s") -> str:
    values = [r[key] for r in rounds]
    median = statistics.median(values)
    return f"{median:{fmt}}{unit} ({min(values):{fmt}}–{max(values):{fmt}})"


def main() -> None:
    scenarios = ("1:1 stream", "20 in one channel")
    results: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
    for _ in range(ROUNDS):
        for scenario in scenarios:  # interleaved, so both see the same machine load
            results[scenario].append(asyncio.run(_run(scenario)))
    print(
        f"medians of {ROUNDS} rounds (min–max), Teams seconds\n\n"
        "| scenario | interval between visible updates: conversation / per reply "
        "| calls per reply | 429s | time to first visible text (mean / max) | all final after |"
    )
    print("|---|---|---|---|---|---|")
    for scenario, rounds in results.items():
        answered = min(r["answered"] for r in rounds)
        print(
            f"| {scenario} | {_cell(rounds, 'wide_interval_s')} / "
            f"{_cell(rounds, 'reply_interval_s')} | {_cell(rounds, 'calls_per_reply', '.1f', '')} "
            f"| {sum(r['rate_limited'] for r in rounds)} | {_cell(rounds, 'first_text_mean_s')} / "
            f"{_cell(rounds, 'first_text_max_s')} | {_cell(rounds, 'elapsed_s', '.1f')} "
            f"({answered}/{rounds[0]['replies']} answered) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
