"""Delivery engine: what users see when 1 or 20 answers stream at once in one rate scope.

Runs on a FakeClock (virtual seconds, so the numbers are exact and the run takes well under a
second) against the strict in-memory adapter with Slack-like capabilities: 50 edits+posts per
60 s per workspace, 1 s between edits of a message, 3,900 chars per message. Each answer streams
~100 chars/s for 45 s (4,500 chars, so it rolls over into a second message once).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from bot.messages import OutgoingMessage
from tests.fakes.memory_adapter import SLACK_LIKE, MemoryAdapter, ref

CHUNK = "word "
EVERY_S = 0.05
CHUNKS = 900  # 45 s of streaming


async def _answer(reply: StreamingReply, clock: FakeClock, started: list[float]) -> None:
    started.append(clock.now())
    await reply.start()
    text = ""
    for _ in range(CHUNKS):
        await clock.sleep(EVERY_S)
        text += CHUNK
        reply.set_text(text)
    await reply.finish(OutgoingMessage.text(text))


async def _run(streams: int) -> dict[str, float]:
    clock = FakeClock()
    adapter = MemoryAdapter(SLACK_LIKE, clock=clock)
    delivery = Delivery(adapter, clock=clock)
    replies = [delivery.reply(ref(f"C{n}", thread=f"t{n}")) for n in range(streams)]
    started: list[float] = []
    await asyncio.gather(*(_answer(r, clock, started) for r in replies))
    t0 = min(started)
    intervals: list[float] = []
    first_text: list[float] = []
    edits: list[int] = []
    total: list[float] = []
    for reply in replies:
        ids = {h.message_id for h in [*reply.handles, *reply.abandoned]}
        writes = [c for c in adapter.ok_calls() if c.message_id in ids and c.text != "…"]
        times = [c.at for c in writes]
        intervals.extend(b - a for a, b in itertools.pairwise(times))
        first_text.append(times[0] - t0)
        edits.append(sum(c.kind == "edit" for c in writes))
        total.append(times[-1] - t0)
    return {
        "streams": streams,
        "mean_update_interval_s": statistics.mean(intervals),
        "edits_per_reply": statistics.mean(edits),
        "rate_limited_429s": adapter.rate_limited,
        "first_text_mean_s": statistics.mean(first_text),
        "first_text_max_s": max(first_text),
        "final_visible_max_s": max(total),
    }


def main() -> None:
    print(
        "Slack-like: 50 calls/60 s per workspace, 1 s per message, 3,900 chars; "
        f"answers of {len(CHUNK) * CHUNKS} chars over {CHUNKS * EVERY_S:.0f} s (virtual time)"
    )
    header = (
        "streams | mean interval between updates | edits/reply | 429s | first text mean / max"
        " | last final at"
    )
    print(header)
    for streams in (1, 20):
        started = time.perf_counter()
        r = asyncio.run(_run(streams))
        wall = time.perf_counter() - started
        print(
            f"{r['streams']:>7} | {r['mean_update_interval_s']:>27.2f} s | "
            f"{r['edits_per_reply']:>11.1f} | {r['rate_limited_429s']:>4} | "
            f"{r['first_text_mean_s']:>8.2f} s / {r['first_text_max_s']:.2f} s | "
            f"{r['final_visible_max_s']:>8.1f} s   (wall {wall:.2f} s)"
        )


if __name__ == "__main__":
    main()
