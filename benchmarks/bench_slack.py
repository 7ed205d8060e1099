"""Slack streaming under the workspace budget, end to end on the fake Slack Web API.

The whole bot runs (`bot.app.Parley`, HTTP server, signed `app_mention` requests to
`/slack/events`, the real Slack adapter and slack_sdk client, the delivery engine, SQLite) against
the loopback fakes of Slack (`tests/fakes/slack_api.py`, which enforces the `chat.update` budget
and per-channel posting) and OpenAI (`tests/fakes/openai_api.py`, streamed answers).

Time is compressed by SCALE so a run takes seconds: Slack's 50 `chat.update` per 60 s per
workspace becomes 50 per 6 s, 1 s between edits of one message becomes 0.1 s, one post per second
per channel becomes one per 0.1 s, and a 45 s answer streams in 4.5 s. Reported times are
multiplied back by SCALE, i.e. shown in Slack seconds.

Measured for 1 and 20 concurrent answers in one workspace (20 spread over 5 channels):
- mean interval between visible updates, workspace-wide (target ≤ 1.2 × the budget's floor,
  60/50 = 1.2 s) and per reply;
- `chat.update` calls per reply; 429s the fake returned; time to first visible text.
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

from adapters.slack.adapter import SlackAdapter, slack_capabilities
from bot.app import Parley
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


async def _run(streams: int) -> dict[str, Any]:
    caps = dataclasses.replace(
        slack_capabilities(),
        min_edit_interval_s=1.0 / SCALE,
        rate_window_s=60.0 / SCALE,
        post_interval_s=1.0 / SCALE,
    )
    floor_s = caps.budget_interval_s * SCALE
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            FakeSlackApi(
                update_limit=caps.edits_per_window,
                update_window_s=caps.rate_window_s,
                post_interval_s=caps.post_interval_s,
                post_burst=caps.post_burst,
            ) as fake,
            FakeOpenAI() as llm,
        ):
            adapter = SlackAdapter(
                bot_token=fake.token,
                signing_secret=SECRET,
                api_url=fake.api_url,
                capabilities=caps,
            )
            settings = Settings(  # type: ignore[call-arg]
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
            return _metrics(fake, asked, streams, floor_s, elapsed)


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


def _metrics(
    fake: FakeSlackApi, asked: dict[str, float], streams: int, floor_s: float, elapsed: float
) -> dict[str, Any]:
    thread_of = {
        m.ts: m.thread_ts for ms in fake.messages.values() for m in ms if m.user == fake.bot_user_id
    }
    visible: dict[str, list[tuple[float, str]]] = {ts: [] for ts in asked}
    for call in fake.calls:
        if call.method in ("chat.postMessage", "chat.update") and not call.error:
            thread = thread_of.get(call.ts)
            if thread in visible:
                visible[thread].append((call.at, str(call.args.get("text", ""))))
    updates = fake.calls_to("chat.update", ok=True)
    shown = sorted(t for v in visible.values() for t, _ in v)  # posts and edits alike
    workspace_gaps = [b - a for a, b in itertools.pairwise(shown)]
    per_reply_gaps = [b[0] - a[0] for v in visible.values() for a, b in itertools.pairwise(v)]
    first_text = [
        next(t for t, text in v if text not in ("…", "")) - asked[ts]
        for ts, v in visible.items()
        if any(text not in ("…", "") for _, text in v)
    ]
    return {
        "streams": streams,
        "workspace_interval_s": statistics.mean(workspace_gaps) * SCALE if workspace_gaps else 0,
        "floor_s": floor_s,
        "reply_interval_s": statistics.mean(per_reply_gaps) * SCALE if per_reply_gaps else 0,
        "updates_per_reply": len(updates) / streams,
        "rate_limited": len(fake.rate_limited),
        "first_text_mean_s": statistics.mean(first_text) * SCALE if first_text else float("nan"),
        "first_text_max_s": max(first_text) * SCALE if first_text else float("nan"),
        "finished": sum(1 for v in visible.values() if v),
        "elapsed_s": elapsed * SCALE,
        "wall_s": elapsed,
    }


def main() -> None:
    print(
        "| streams | mean interval between visible updates: workspace (floor) / per reply "
        "| chat.update per reply | 429s seen | time to first visible text (mean / max) "
        "| all final after |"
    )
    print("|---|---|---|---|---|---|")
    for streams in (1, 20):
        r = asyncio.run(_run(streams))
        print(
            f"| {r['streams']} | {r['workspace_interval_s']:.2f} s ({r['floor_s']:.2f} s) / "
            f"{r['reply_interval_s']:.2f} s | {r['updates_per_reply']:.1f} | "
            f"{r['rate_limited']} | {r['first_text_mean_s']:.2f} s / "
            f"{r['first_text_max_s']:.2f} s | {r['elapsed_s']:.1f} s "
            f"({r['finished']}/{r['streams']} answered, {r['wall_s']:.1f} s wall) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
