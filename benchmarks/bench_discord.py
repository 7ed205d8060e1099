"""Discord streaming under the per-channel bucket, end to end on the Discord fake.

The whole bot runs (`bot.app.Parley`, the real Discord adapter with discord.py's gateway client,
the delivery engine, SQLite) against the loopback fakes of Discord (`tests/fakes/discord_api.py`:
REST with per-channel buckets, X-RateLimit headers and 429s, and the gateway) and OpenAI
(`tests/fakes/openai_api.py`, streamed answers). Every question is a mention in one channel.

Time is compressed by SCALE so a run takes seconds: Discord's 5 creates+edits per 5 s per
channel becomes 5 per 1 s, the global 50 per second 50 per 0.2 s, the 1 s between edits of one
message 0.2 s, and a 15 s answer streams in 3 s. Reported times are multiplied back by SCALE, i.e. shown in Discord seconds.

Measured for 1 and 10 concurrent answers in one channel (answers of 1,800 chars: one message
each, so every write is a visible update of that answer):
- mean interval between visible updates, channel-wide (the bucket's floor is 5 s / 5 = 1 s)
  and per reply;
- edits per reply; 429s the fake returned; time to first visible text (mean / max).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.discord.adapter import DiscordAdapter, discord_capabilities
from bot.app import Parley
from bot.capabilities import Op, RateLimit, RateScope
from bot.settings import Settings
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_wire import CHANNEL_ID
from tests.fakes.llm_fixtures import Text
from tests.fakes.openai_api import FakeOpenAI

SCALE = 5.0
WINDOW_S, CALLS = 5.0, 5
ANSWER_CHARS = 1800
STREAM_S = 15.0
CHUNKS = 45
ROUNDS = 3
WRITES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /channels/{channel_id}/messages/{message_id}",
)


def _answer(i: int) -> str:
    words = [f"w{i}x{n:04d}" for n in range(ANSWER_CHARS // 8)]
    lines = [" ".join(words[k : k + 12]) for k in range(0, len(words), 12)]
    return "\n".join(lines)[:ANSWER_CHARS]


def _adapter(fake: FakeDiscord, *, threads: bool) -> DiscordAdapter:
    base = discord_capabilities(reply_in_thread=threads)
    channel = RateLimit(
        ops=frozenset({Op.POST, Op.EDIT}),
        scope=RateScope.THREAD,
        calls=CALLS,
        window_s=WINDOW_S / SCALE,
        name="channel messages",
    )
    glob = dataclasses.replace(base.rate_limits[1], window_s=base.rate_limits[1].window_s / SCALE)
    caps = dataclasses.replace(
        base,
        min_edit_interval_s=base.min_edit_interval_s / SCALE,
        typing_interval_s=base.typing_interval_s / SCALE,
        rate_limits=(channel, glob),
    )
    return DiscordAdapter(
        token=fake.token,
        api_url=fake.api_url,
        guild_ready_timeout_s=0.05,
        reply_in_thread=threads,
        capabilities=caps,
    )


async def _idle(app: Parley, adapter: DiscordAdapter) -> None:
    quiet = 0
    while quiet < 3:
        await asyncio.sleep(0.05)
        busy = bool(adapter._tasks) or app.queues.active > 0
        if adapter._tasks:
            await asyncio.wait(set(adapter._tasks))
        await app.settled()
        quiet = 0 if busy else quiet + 1


async def _run(streams: int, *, threads: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeDiscord(
                message_limit=CALLS,
                message_window_s=WINDOW_S / SCALE,
                global_window_s=1.0 / SCALE,
            ) as fake,
            FakeOpenAI() as llm,
        ):
            adapter = _adapter(fake, threads=threads)
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                log_level="ERROR",
                first_post_wait_s=1.0 / SCALE,
                budget_history_tokens=50_000,  # no summary call taking a scripted answer
                **llm.settings_overrides(),
            )
            app = Parley(settings, adapters=[adapter], load_platforms=False, knowledge=False)
            await app.start(http=False)
            try:
                await _warm_up(fake, app, adapter)
                for i in range(streams):
                    llm.script(Text(_answer(i), chunks=CHUNKS, delay_s=STREAM_S / SCALE / CHUNKS))
                asked: dict[str, float] = {}

                async def mention(i: int) -> None:
                    started = time.monotonic()
                    question = await fake.user_says(CHANNEL_ID, f"question {i}", mention_bot=True)
                    asked[question] = started

                started = time.monotonic()
                await asyncio.gather(*(mention(i) for i in range(streams)))
                await _idle(app, adapter)
                elapsed = time.monotonic() - started
            finally:
                await app.stop()
            return _metrics(fake, asked, streams, elapsed)


async def _warm_up(fake: FakeDiscord, app: Parley, adapter: DiscordAdapter) -> None:
    """One short answer first, so imports, connections and SQLite are warm; then a clean slate."""
    await fake.user_says(CHANNEL_ID, "warm up", mention_bot=True)
    await _idle(app, adapter)
    await asyncio.sleep(WINDOW_S / SCALE)  # let the bucket empty
    fake.calls.clear()
    fake.messages.clear()
    fake.rate_limited = 0


def _metrics(
    fake: FakeDiscord, asked: dict[str, float], streams: int, elapsed: float
) -> dict[str, Any]:
    answer_of = {m.id: _question_of(fake, m) for m in fake.bot_messages()}
    answer_of = {m: q for m, q in answer_of.items() if q in asked}
    visible: dict[str, list[tuple[float, str]]] = {q: [] for q in asked}
    for call in fake.calls:
        if call.route in WRITES and call.status < 300 and call.message_id in answer_of:
            content = str((call.body or {}).get("content", ""))
            visible[answer_of[call.message_id]].append((call.at, content))
    shown = sorted(t for v in visible.values() for t, _ in v)
    channel_gaps = [b - a for a, b in itertools.pairwise(shown)]
    reply_gaps = [b[0] - a[0] for v in visible.values() for a, b in itertools.pairwise(v)]
    first_text = [
        next(t for t, text in v if text.strip(" …")) - asked[q]
        for q, v in visible.items()
        if any(text.strip(" …") for _, text in v)
    ]
    edits = [c for c in fake.calls if c.route == WRITES[1] and c.status < 300]
    return {
        "streams": streams,
        "channel_interval_s": statistics.mean(channel_gaps) * SCALE if channel_gaps else 0.0,
        "floor_s": WINDOW_S / CALLS,
        "reply_interval_s": statistics.mean(reply_gaps) * SCALE if reply_gaps else 0.0,
        "edits_per_reply": len(edits) / streams,
        "rate_limited": fake.rate_limited,
        "first_text_mean_s": statistics.mean(first_text) * SCALE if first_text else float("nan"),
        "first_text_max_s": max(first_text) * SCALE if first_text else float("nan"),
        "finished": len(
            {m.content for m in fake.bot_messages() if _question_of(fake, m) in asked}
            & {_answer(i) for i in range(streams)}
        ),
        "elapsed_s": elapsed * SCALE,
        "wall_s": elapsed,
    }


def _question_of(fake: FakeDiscord, message: Any) -> str:
    """The question an answer message answers: the message it replies to, or the message the
    thread it is in was opened on (a thread's id is its starter message's)."""
    if message.reference:
        return str(message.reference)
    channel = fake.channels.get(message.channel_id) or {}
    return str(message.channel_id) if channel.get("parent_id") else ""


SCENARIOS = (
    ("1 mention", 1, False),
    ("10 mentions in one channel (one conversation: queued)", 10, False),
    ("10 mentions in one channel, answered in threads (concurrent)", 10, True),
)


def main() -> None:
    """Each scenario ROUNDS times, interleaved; medians with the range over the rounds."""
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in SCENARIOS}
    for _ in range(ROUNDS):
        for name, streams, threads in SCENARIOS:
            results[name].append(asyncio.run(_run(streams, threads=threads)))
    print(f"medians of {ROUNDS} rounds [min–max]; times in Discord seconds (SCALE={SCALE:g})\n")
    print(
        "| answers | mean interval between visible updates: all answers (bucket floor) / "
        "per answer | edits per answer | 429s seen | time to first visible text "
        "(mean / max) | all final after |"
    )
    print("|---|---|---|---|---|---|")
    for name, _, _ in SCENARIOS:
        rs = results[name]

        def cell(key: str, rs: list[dict[str, Any]] = rs) -> str:
            values = sorted(r[key] for r in rs)
            return f"{statistics.median(values):.2f} [{values[0]:.2f}–{values[-1]:.2f}]"

        finished = min(r["finished"] for r in rs)
        print(
            f"| {name} | {cell('channel_interval_s')} s ({rs[0]['floor_s']:.2f} s) / "
            f"{cell('reply_interval_s')} s | {cell('edits_per_reply')} | "
            f"{sum(r['rate_limited'] for r in rs)} | {cell('first_text_mean_s')} s / "
            f"{cell('first_text_max_s')} s | {cell('elapsed_s')} s "
            f"({finished}/{rs[0]['streams']} final in every round) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
