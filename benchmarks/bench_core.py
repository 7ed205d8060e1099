"""Event → first sign of an answer, and → its first post, in the conversation core.

A zero-latency scripted model and an in-memory adapter (no platform limits, a typing indicator
as Discord and Teams have), with the real pipeline, queues, delivery engine and storage (SQLite
under a temporary DATA_DIR, then a fresh PostgreSQL database when one is running). Two times are
measured from handing an event to the pipeline (the adapter's sink):

- **first sign**: the adapter's first call for the answer (its typing indicator): what the core
  adds before a user sees that the bot is answering. Before the edge contract's first-post rule
  this was the "…" placeholder, posted at dispatch; the issue 2 target is for this time.
- **first post**: the answer's first message, which (edge contract, `bot.delivery.reply`) waits
  for the model's first words: with a model that answers at once, that is the whole of the
  turn's own work before the model (claim, memory, storing the question and the reply's row).

Issue 2's target (p50 ≤ 5 ms, p99 ≤ 20 ms) is for one conversation and for 200 concurrent
conversations. "Concurrent conversations" is modelled the way load tests model concurrent users:
200 people, each in their own conversation, each asking, reading the answer, then pausing (an
exponential pause, mean 4 s) before asking again, about 50 messages a second in all. The two
stress rows go past that to show where one process saturates: Poisson arrivals at twice that
rate, and 200 events handed over in the same instant.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path

from bot.app import Parley
from bot.capabilities import Capabilities
from bot.clock import MonotonicClock
from bot.events import IncomingMessage, Origin, OriginKind
from bot.logs import configure_logging
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle
from bot.settings import Settings
from tests.fakes.memory_adapter import MemoryAdapter
from tests.fakes.scripted_model import ScriptedModel

UNLIMITED = Capabilities(
    max_post_chars=100_000,
    max_edit_chars=100_000,
    min_edit_interval_s=0.0,
    typing_interval_s=10.0,
)


class TimedAdapter(MemoryAdapter):
    """Resolves a conversation's next waiter with the times of the answer's first call (its
    typing indicator) and of its first post, and another waiter when the answer is final."""

    def __init__(self) -> None:
        super().__init__(
            UNLIMITED, clock=MonotonicClock(), enforce_rate=False, enforce_edit_interval=False
        )
        self._waiters: dict[str, deque[asyncio.Future[tuple[float, float]]]] = defaultdict(deque)
        self._signs: dict[str, float] = {}
        self._answered: dict[str, asyncio.Future[None]] = {}

    def expect(self, memory_key: str) -> asyncio.Future[tuple[float, float]]:
        future: asyncio.Future[tuple[float, float]] = asyncio.get_running_loop().create_future()
        self._waiters[memory_key].append(future)
        return future

    def expect_answer(self, memory_key: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._answered[memory_key] = future
        return future

    async def typing(self, ref: ConversationRef) -> None:
        self._signs.setdefault(ref.memory_key, time.perf_counter())
        await super().typing(ref)

    async def send(
        self, ref: ConversationRef, message: OutgoingMessage, *, origin: Origin | None = None
    ) -> MessageHandle:
        posted = time.perf_counter()
        sign = self._signs.pop(ref.memory_key, posted)
        if self._waiters[ref.memory_key]:
            self._waiters[ref.memory_key].popleft().set_result((sign, posted))
        handle = await super().send(ref, message, origin=origin)
        self._seen(ref, message)
        return handle

    async def edit(self, handle: MessageHandle, message: OutgoingMessage) -> None:
        await super().edit(handle, message)
        self._seen(handle.ref, message)

    def _seen(self, ref: ConversationRef, message: OutgoingMessage) -> None:
        answered = self._answered.get(ref.memory_key)
        if message.final and answered is not None and not answered.done():
            answered.set_result(None)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _event(conversation: int) -> IncomingMessage:
    ref = ConversationRef(platform="memory", workspace_id="T", channel_id=f"C{conversation}")
    return IncomingMessage(
        origin=Origin(kind=OriginKind.MESSAGE),
        event_id=uuid.uuid4().hex,
        ref=ref,
        author=Author(id=uuid.uuid4().hex),
        text="hello",
        mentions_bot=True,
    )


async def _fresh_database(server_url: str) -> str:
    """A new, empty PostgreSQL database on the server `server_url` points at."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_async_engine(server_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


async def _measure(
    scenario: str,
    conversations: int,
    *,
    events: int,
    warmup: int = 0,
    rate_per_s: float = 0.0,
    pause_s: float = 0.0,
    database_url: str | None = None,
) -> list[tuple[float, float]]:
    """`sequential`: one event at a time; `users`: `conversations` people asking in turn, each
    pausing `pause_s` on average after an answer; `steady`: Poisson arrivals at `rate_per_s`
    spread over `conversations`; `burst`: `conversations` events handed over in the same
    instant."""
    with tempfile.TemporaryDirectory() as tmp:
        adapter = TimedAdapter()
        database = await _fresh_database(database_url) if database_url else None
        app = Parley(
            Settings(_env_file=None, data_dir=Path(tmp), database_url=database),
            chat_model=ScriptedModel(),
            adapters=[adapter],
            load_platforms=False,
            knowledge=False,
        )
        await app.start(http=False)
        assert app.pipeline is not None
        pipeline = app.pipeline
        rng = random.Random(7)
        samples: list[tuple[float, float]] = []
        pending: list[asyncio.Task[None]] = []

        async def one(event: IncomingMessage) -> None:
            t0 = time.perf_counter()
            waiter = adapter.expect(event.ref.memory_key)
            await pipeline(event)
            sign, posted = await waiter
            samples.append(((sign - t0) * 1000, (posted - t0) * 1000))

        async def run(events: int) -> None:
            if scenario == "sequential":
                for _ in range(events):
                    await one(_event(0))
                    await app.settled()
            elif scenario == "users":
                per_user = max(1, events // conversations)

                async def user(conversation: int) -> None:
                    await asyncio.sleep(rng.uniform(0, pause_s))  # not all in step
                    for _ in range(per_user):
                        event = _event(conversation)
                        answered = adapter.expect_answer(event.ref.memory_key)
                        await one(event)
                        await asyncio.wait_for(answered, timeout=30)
                        await asyncio.sleep(rng.expovariate(1 / pause_s))

                await asyncio.gather(*(user(i) for i in range(conversations)))
            elif scenario == "steady":
                for _ in range(events):
                    pending.append(asyncio.create_task(one(_event(rng.randrange(conversations)))))
                    await asyncio.sleep(rng.expovariate(rate_per_s))
            else:
                for _ in range(events // conversations):
                    batch = [_event(i) for i in range(conversations)]
                    pending.extend(asyncio.create_task(one(e)) for e in batch)
                    await asyncio.gather(*pending)
                    await app.settled()
            await asyncio.wait_for(asyncio.gather(*pending), timeout=60)
            await app.settled()

        try:
            # Warm up in the same process and database (connection pools, first-use paths,
            # conversations that already have history), then measure.
            await run(warmup)
            samples.clear()
            await run(events)
        finally:
            await app.stop()
        return samples


TARGET_P50_MS, TARGET_P99_MS = 5.0, 20.0
SCENARIOS = (
    # label, scenario, conversations, events, rate (events/s), pause (s)
    ("1 conversation, one event at a time", "sequential", 1, 300, 0.0, 0.0),
    ("200 concurrent conversations (~50 events/s)", "users", 200, 1000, 0.0, 4.0),
    ("stress: 200 conversations, 100 events/s", "steady", 200, 1000, 100.0, 0.0),
    ("stress: 200 events in one instant", "burst", 200, 1000, 0.0, 0.0),
)


def main() -> None:
    configure_logging("WARNING", "console")
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if os.environ.get("TEST_DATABASE_URL"):  # set by scripts/with-postgres (make bench)
        backends.append(("PostgreSQL", os.environ["TEST_DATABASE_URL"]))
    print("event→first sign (typing) and →first post (zero-latency model, in-memory adapter)")
    print(
        f"{'database':<11} {'scenario':<46} {'samples':>8} {'sign p50':>9} {'sign p99':>9}"
        f"  target {'post p50':>9} {'post p99':>9}"
    )
    for backend, url in backends:
        for label, scenario, conversations, events, rate, pause in SCENARIOS:
            warmup = min(events, 200)
            samples = asyncio.run(
                _measure(
                    scenario,
                    conversations,
                    events=events,
                    warmup=warmup,
                    rate_per_s=rate,
                    pause_s=pause,
                    database_url=url,
                )
            )
            signs, posts = [s for s, _ in samples], [p for _, p in samples]
            p50, p99 = statistics.median(signs), _pct(signs, 99)
            verdict = (
                "-"
                if label.startswith("stress")
                else ("met" if p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS else "MISSED")
            )
            print(
                f"{backend:<11} {label:<46} {len(samples):>8} {p50:>9.2f} {p99:>9.2f}  "
                f"{verdict:<6} {statistics.median(posts):>9.2f} {_pct(posts, 99):>9.2f}"
            )


if __name__ == "__main__":
    main()
