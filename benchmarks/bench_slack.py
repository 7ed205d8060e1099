"""Slack streaming under the workspace budget, end to end on the fake Slack Web API.

The whole bot runs (`bot.app.Parley`, HTTP server, signed `app_mention` requests to
`/slack/events`, the real Slack adapter and slack_sdk client, the delivery engine, SQLite) against
the loopback fakes of Slack (`tests/fakes/slack_api.py`, which enforces the `chat.update` budget
and per-channel posting) and OpenAI (`tests/fakes/openai_api.py`, streamed answers).

Time is compressed by SCALE so a run takes seconds: Slack's 50 `chat.update` per 60 s per
workspace becomes 50 per 6 s, 1 s between edits of one message becomes 0.1 s, one post per second
per channel becomes one per 0.1 s, and a 45 s answer streams in 4.5 s. Reported times are
multiplied back by SCALE, i.e. shown in Slack seconds.

Measured for 1 and 20 concurrent answers in one workspace (20 spread over 5 channels), by edits
(chat.postMessage + chat.update) and with native streaming (chat.startStream + appendStream +
stopStream), each Slack method its own budget as Slack counts them:
- time to first visible text (p50 / max; target p50 ≤ 2 s, max ≤ 5 s for 20 streams);
- each reply's mean interval between visible updates against its fair share of the budget that
  paces it (chat.update: 50/min per workspace, so 20 replies share one update per 24 s each;
  appendStream: 100/min) — the worst reply's ratio (target ≤ 1.2);
- updates per reply; 429s the fake returned; whether every reply ended final.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.slack.adapter import SlackAdapter, slack_capabilities
from bot.app import Parley
from bot.capabilities import Op
from bot.settings import Settings
from tests.fakes.llm_fixtures import Text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackApi, SlackEventSender, event_envelope, message_event

SCALE = 10.0
SECRET = "bench-signing-secret"
ANSWER_CHARS = 4500
STREAM_S = 45.0


def _answer(i: int) -> str:
    words = [f"w{i}x{n:04d}" for n in range(ANSWER_CHARS // 8)]
    lines = [" ".join(words[k : k + 12]) for k in range(0, len(words), 12)]
    return "\n".join(lines)[:ANSWER_CHARS]


async def _run(streams: int, native: bool) -> dict[str, Any]:
    caps = slack_capabilities(native_stream=native, time_scale=1.0 / SCALE)
    pacing = caps.limits_for(Op.STREAM if native else Op.EDIT)[0]
    floor_s = pacing.interval_s * SCALE
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeSlackApi(
                update_limit=50,
                update_window_s=60.0 / SCALE,
                post_interval_s=1.0 / SCALE,
                post_burst=3,
                stream_limit=100,
                stream_window_s=60.0 / SCALE,
            ) as fake,
            FakeOpenAI() as llm,
        ):
            adapter = SlackAdapter(
                bot_token=fake.token,
                signing_secret=SECRET,
                api_url=fake.api_url,
                native_streaming=native,
                capabilities=caps,
            )
            settings = Settings(
                _env_file=None,
                data_dir=Path(tmp),
                host="127.0.0.1",
                port=0,
                log_level="ERROR",
                **llm.settings_overrides(),
            )
            app = Parley(settings, adapters=[adapter], load_platforms=False, knowledge=False)
            await app.start()
            try:
                url = f"http://127.0.0.1:{app.http_port}/slack/events"
                asked: dict[str, float] = {}
                async with SlackEventSender(url, SECRET) as sender:
                    await _warm_up(fake, sender, app, adapter)
                    chunks = 90
                    for i in range(streams):
                        llm.script(
                            Text(_answer(i), chunks=chunks, delay_s=STREAM_S / SCALE / chunks)
                        )

                    async def mention(i: int) -> None:
                        msg = fake.user_message(
                            f"C0BENCH{i % 5}", f"<@{fake.bot_user_id}> question {i}"
                        )
                        asked[msg.ts] = time.monotonic()
                        await sender.event(event_envelope(message_event(msg, kind="app_mention")))

                    started = time.monotonic()
                    await asyncio.gather(*(mention(i) for i in range(streams)))
                    while True:
                        while adapter._tasks:
                            await asyncio.wait(set(adapter._tasks))
                        await app.settled()
                        if not adapter._tasks:
                            break
                    elapsed = time.monotonic() - started
            finally:
                await app.stop()
            return _metrics(fake, asked, streams, floor_s, elapsed, native)


async def _warm_up(
    fake: FakeSlackApi, sender: SlackEventSender, app: Parley, adapter: SlackAdapter
) -> None:
    """One short answer first, so imports, connections and SQLite are warm; then a clean slate."""
    msg = fake.user_message("C0WARMUP", f"<@{fake.bot_user_id}> warm up")
    await sender.event(event_envelope(message_event(msg, kind="app_mention")))
    while adapter._tasks:
        await asyncio.wait(set(adapter._tasks))
    await app.settled()
    await asyncio.sleep(60.0 / SCALE)  # let the budget window empty
    fake.calls.clear()
    fake.messages.clear()


VISIBLE = ("chat.postMessage", "chat.update", "chat.appendStream", "chat.stopStream")


def _metrics(
    fake: FakeSlackApi,
    asked: dict[str, float],
    streams: int,
    floor_s: float,
    elapsed: float,
    native: bool,
) -> dict[str, Any]:
    thread_of = {
        m.ts: m.thread_ts for ms in fake.messages.values() for m in ms if m.user == fake.bot_user_id
    }
    visible: dict[str, list[tuple[float, str]]] = {ts: [] for ts in asked}
    for call in fake.calls:
        if call.method in VISIBLE and not call.error:
            ts = call.ts or str(call.args.get("ts", ""))
            thread = thread_of.get(ts)
            if thread in visible:
                visible[thread].append(
                    (call.at, str(call.args.get("text") or call.args.get("markdown_text") or ""))
                )
    per_reply = [
        statistics.mean(b[0] - a[0] for a, b in itertools.pairwise(v)) * SCALE
        for v in visible.values()
        if len(v) > 1
    ]
    fair_s = floor_s * streams
    first_text = sorted(
        next(t for t, text in v if text not in ("…", "")) - asked[ts]
        for ts, v in visible.items()
        if any(text not in ("…", "") for _, text in v)
    )
    finals = [
        m
        for ms in fake.messages.values()
        for m in ms
        if m.user == fake.bot_user_id and m.thread_ts in asked
    ]
    return {
        "mode": "native stream" if native else "edits",
        "streams": streams,
        "fair_s": fair_s,
        "reply_interval_s": statistics.mean(per_reply) if per_reply else 0.0,
        "worst_ratio": max(per_reply) / fair_s if per_reply else 0.0,
        "updates_per_reply": sum(len(v) for v in visible.values()) / streams,
        "rate_limited": len(fake.rate_limited),
        "first_text_p50_s": statistics.median(first_text) * SCALE if first_text else float("nan"),
        "first_text_max_s": max(first_text) * SCALE if first_text else float("nan"),
        "all_final": len(first_text) == streams and not any(m.streaming for m in finals),
        "elapsed_s": elapsed * SCALE,
        "wall_s": elapsed,
    }


def main() -> None:
    print(
        "| mode | streams | time to first visible text (p50 / max) | mean update interval per "
        "reply (fair share) | worst reply / fair share | visible updates per reply | 429s "
        "| every reply final | all final after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for native in (False, True):
        for streams in (1, 20):
            r = asyncio.run(_run(streams, native))
            print(
                f"| {r['mode']} | {r['streams']} | {r['first_text_p50_s']:.2f} s / "
                f"{r['first_text_max_s']:.2f} s | {r['reply_interval_s']:.2f} s "
                f"({r['fair_s']:.2f} s) | {r['worst_ratio']:.2f} | "
                f"{r['updates_per_reply']:.1f} | {r['rate_limited']} | {r['all_final']} | "
                f"{r['elapsed_s']:.1f} s ({r['wall_s']:.1f} s wall) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
