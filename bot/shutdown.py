"""Graceful shutdown: what SIGTERM does, for every adapter, through the app.

How it goes (`Parley.shutdown(grace_s)`, grace = SHUTDOWN_GRACE_S, default 20 s):

1. At once: the app is *draining*. `/readyz` answers 503 ("shutdown": "draining") so a load
   balancer stops sending; the adapters' HTTP routes (`/slack/events`, `/api/messages`) answer
   503 with Retry-After, so Slack retries the event later, on this process's successor; events
   arriving over sockets (Slack Socket Mode, the Discord gateway, the console) are dropped by
   the pipeline (metric `parley_events_dropped_total{reason="shutting_down"}`), and whoever
   expected an answer (a command, a click, a mention, a direct message) is told privately.
2. Until `grace - margin` (margin = a quarter of the grace, at most 5 s): answers in progress,
   and the work already queued behind them, go on and finish normally (`drain`).
3. Then whatever is still running is cancelled: each turn finalizes its reply with "Parley is
   restarting; please ask again in a moment." below what it had shown, and marks it failed
   (`bot.core.turn`), within the margin. A reply that could not be finalized stays `streaming`
   for the next start's crash recovery (`storage.recovery`), which finalizes it then.
4. `Parley.stop()`: the worker lease is given up, the adapters stop (platform sockets and HTTP
   sessions close), then the HTTP server, the knowledge base (Qdrant), the tool host (its
   timers; pending approvals stay untouched in the database and their buttons work after the
   restart), the model clients and the database.

A second SIGTERM (or Ctrl-C) while this runs exits at once (`os._exit`, status 128 + signal):
for an operator who does not want to wait. What it leaves half-written, recovery closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterable

from bot.clock import Clock
from bot.core.queues import ConversationQueues
from bot.logs import get_logger

log = get_logger(__name__)

MAX_MARGIN_S = 5.0


def margin_s(grace_s: float) -> float:
    """The part of the grace kept for finalizing what did not finish."""
    return min(MAX_MARGIN_S, grace_s / 4)


async def drain(queues: ConversationQueues, *, clock: Clock, grace_s: float) -> int:
    """Let queued and running work finish until `grace_s - margin`; then cancel the rest (each
    turn finalizes its reply) and wait up to the margin for that. Returns the jobs cancelled."""
    margin = margin_s(grace_s)
    if await _within(asyncio.ensure_future(queues.drain()), clock, grace_s - margin):
        return 0
    left = queues.queued
    log.warning("shutdown.finalizing", jobs=left, after_s=round(grace_s - margin, 1))
    if not await _within(asyncio.ensure_future(queues.close()), clock, margin):
        log.warning("shutdown.finalize_timeout", margin_s=margin)
    return left


async def _within(work: asyncio.Future[None], clock: Clock, seconds: float) -> bool:
    """Wait for `work` at most `seconds` on `clock`; True when it finished in time. `work` is
    never cancelled here: cancelling `drain` would cancel the turns it waits for, and a second
    cancellation would cut a turn's own finalization short."""
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return work.done()


class ShutdownSignals:
    """The first of `signals` asks for a graceful shutdown (`requested`); the next one exits
    the process at once."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self._received = 0

    def install(
        self, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
    ) -> ShutdownSignals:
        loop = asyncio.get_running_loop()
        for sig in signals:
            with contextlib.suppress(NotImplementedError):  # not on Windows' default loop
                loop.add_signal_handler(sig, self.received, sig)
        return self

    def received(self, sig: signal.Signals) -> None:
        self._received += 1
        if self._received == 1:
            log.info("shutdown.requested", signal=sig.name)
            self.requested.set()
            return
        log.warning("shutdown.now", signal=sig.name, detail="second signal: exiting at once")
        sys.stderr.flush()
        os._exit(128 + sig.value)
