"""Delivery engine: what users see when 1 or 20 answers stream at once in one rate scope.

Runs on a FakeClock (virtual seconds, so the numbers are exact and the run takes about a
second) against the strict in-memory adapter, configured like each platform:
- Slack-like: chat.update 50 per 60 s per workspace, posts a bucket of 3 then 1/s per channel,
  1 s between edits of a message, 3,900 chars; streams in 20 threads of one workspace.
- Discord-like: 5 posts+edits per 5 s per channel, 50 calls/s globally, 2,000 chars; 1 and 10
  streams in one channel.
- Teams-like: 7 / 1 s, 60 / 30 s and 1,800 / h per conversation, 28 KB; 20 streams in one
  channel conversation.
Each answer streams ~100 chars/s for 45 s (4,500 chars, so it rolls over where messages are
shorter). The engine's first post waits up to 1 s for the first text (which comes after 50 ms).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

from bot.capabilities import Capabilities
from bot.clock import FakeClock
from bot.delivery import Delivery, StreamingReply
from bot.messages import OutgoingMessage
from bot.refs import ConversationRef
from tests.fakes.memory_adapter import DISCORD_LIKE, SLACK_LIKE, TEAMS_LIKE, MemoryAdapter, ref

CHUNK = "word "
EVERY_S = 0.05
CHUNKS = 900  # 45 s of streaming


async def _answer(reply: StreamingReply, clock: FakeClock, started: list[float]) -> None:
    started.append(clock.now())
    reply.start()
    text = ""
    for _ in range(CHUNKS):
        await clock.sleep(EVERY_S)
        text += CHUNK
        reply.set_text(text)
    await reply.finish(OutgoingMessage.text(text))


def _threads(n: int) -> ConversationRef:
    return ref(f"C{n % 5}", thread=f"t{n}")


def _one_channel(n: int) -> ConversationRef:
    return ref("C1")


SCENARIOS: list[tuple[str, Capabilities, int, object]] = [
    ("Slack-like, 1 thread", SLACK_LIKE, 1, _threads),
    ("Slack-like, 20 threads over 5 channels of one workspace", SLACK_LIKE, 20, _threads),
    ("Discord-like, 1 in a channel", DISCORD_LIKE, 1, _one_channel),
    ("Discord-like, 10 in one channel", DISCORD_LIKE, 10, _one_channel),
    ("Teams-like, 20 in one channel conversation", TEAMS_LIKE, 20, _one_channel),
]


async def _run(streams: int, caps: Capabilities, where: object) -> dict[str, float]:
    clock = FakeClock()
    adapter = MemoryAdapter(caps, clock=clock)
    delivery = Delivery(adapter, clock=clock)
    replies = [delivery.reply(where(n)) for n in range(streams)]  # type: ignore[operator]
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
        "all_final": all(adapter.messages[r.handles[-1].message_id].final for r in replies),
        "mean_update_interval_s": statistics.mean(intervals),
        "edits_per_reply": statistics.mean(edits),
        "rate_limited_429s": adapter.rate_limited,
        "first_text_mean_s": statistics.mean(first_text),
        "first_text_max_s": max(first_text),
        "final_visible_max_s": max(total),
    }


def main() -> None:
    print(
        f"answers of {len(CHUNK) * CHUNKS} chars over {CHUNKS * EVERY_S:.0f} s (virtual time); "
        "update interval = time between visible writes of one reply"
    )
    header = (
        "scenario | mean interval between updates | edits/reply | 429s | first text mean / max"
        " | last final at | all final"
    )
    print(header)
    for name, caps, streams, where in SCENARIOS:
        started = time.perf_counter()
        r = asyncio.run(_run(streams, caps, where))
        wall = time.perf_counter() - started
        print(
            f"{name} | {r['mean_update_interval_s']:.2f} s | "
            f"{r['edits_per_reply']:.1f} | {r['rate_limited_429s']} | "
            f"{r['first_text_mean_s']:.2f} s / {r['first_text_max_s']:.2f} s | "
            f"{r['final_visible_max_s']:.1f} s | {r['all_final']}   (wall {wall:.2f} s)"
        )


if __name__ == "__main__":
    main()
