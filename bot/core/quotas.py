"""Quotas, checked before a turn starts: request rates, daily token budgets, concurrent answers.

How a question is admitted (`Quotas.admit`):
1. The workspace's limits: QUOTA_* defaults, replaced field by field by QUOTA_OVERRIDES for
   `platform:workspace_id`, else `platform:*`.
2. Request rates, per user and per channel: a sliding window of the admitted questions' times
   (kept per process, for the most recent `MAX_KEYS` users and channels). Full → refused until
   the oldest one leaves the window.
3. Daily token budgets, per user and per channel: the tokens recorded in `usage_records` since
   00:00 UTC (shared by every process through the database). Spent → refused until midnight UTC.
4. Concurrent answers per user (per process): at most N in progress; refused until one ends.
A refusal is checked for the admin exemption only then, so ordinary traffic costs no role
lookup. Nothing is counted for a refused question. The refusal is a polite sentence saying
when to try again; the turn runner sends it privately.

Rates are hand-written (a deque per key) rather than aiolimiter's leaky bucket: the answer
must say exactly when the next question fits, and the window must run on the injected clock so
that tests can hit a limit and watch it reset.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.core.lru import Lru
from bot.core.quota_limits import QuotaLimits, Rate, apply
from bot.logs import get_logger
from bot.refs import Author, ConversationRef
from bot.usage.ledger import UsageLedger
from bot.usage.periods import Now, next_day, period_start, utc_now

log = get_logger(__name__)
MAX_KEYS = 20_000
"""Users and channels whose recent questions are remembered; the least recently active go."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    text: str
    """What the asker is told, privately."""
    retry_in_s: float


class Admission:
    """A question let through: `release()` when its answer ends (frees a concurrency slot)."""

    def __init__(self, release: Callable[[], None] = lambda: None) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


class Quotas:
    def __init__(
        self,
        *,
        defaults: QuotaLimits,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        ledger: UsageLedger | None,
        is_admin: Callable[[ConversationRef, Author], Awaitable[bool]],
        clock: Clock,
        wall: Now = utc_now,
        admins_exempt: bool = True,
    ) -> None:
        self._defaults = defaults
        self._overrides = {
            key: apply(defaults, changes) for key, changes in (overrides or {}).items()
        }
        self._ledger = ledger
        self._is_admin = is_admin
        self._clock = clock
        self._wall = wall
        self._admins_exempt = admins_exempt
        self._windows: Lru[str, deque[float]] = Lru(MAX_KEYS)
        self._running: dict[str, int] = {}

    def limits_for(self, ref: ConversationRef) -> QuotaLimits:
        return (
            self._overrides.get(f"{ref.platform}:{ref.workspace_id}")
            or self._overrides.get(f"{ref.platform}:*")
            or self._defaults
        )

    async def admit(self, ref: ConversationRef, author: Author) -> Admission | Refusal:
        limits = self.limits_for(ref)
        if not limits.any:
            return Admission()
        user_key = f"{ref.platform}:{ref.workspace_id}:u:{author.id}"
        channel_key = f"{ref.platform}:{ref.workspace_id}:c:{ref.channel_id}"
        refusal = self._concurrency(limits, user_key) or self._rates(limits, user_key, channel_key)
        if refusal is None:
            refusal = await self._budgets(limits, ref, author)
        if refusal is not None:
            if self._admins_exempt and await self._is_admin(ref, author):
                return Admission()
            log.info("question refused by a quota", reason=refusal.text[:60])
            return refusal
        now = self._clock.now()
        for key, rate in ((user_key, limits.user_requests), (channel_key, limits.channel_requests)):
            if rate is not None:
                self._windows.setdefault(key, deque).append(now)
        if not limits.concurrent_per_user:
            return Admission()
        self._running[user_key] = self._running.get(user_key, 0) + 1
        return Admission(lambda: self._finished(user_key))

    def _finished(self, user_key: str) -> None:
        left = self._running.get(user_key, 1) - 1
        if left > 0:
            self._running[user_key] = left
        else:
            self._running.pop(user_key, None)

    def _concurrency(self, limits: QuotaLimits, user_key: str) -> Refusal | None:
        cap = limits.concurrent_per_user
        if not cap or self._running.get(user_key, 0) < cap:
            return None
        answers = "answer" if cap == 1 else f"{cap} answers"
        return Refusal(
            text=f"I'm still writing your other {answers} (the most one person can have at "
            "once). Please ask again when one of them is done.",
            retry_in_s=0.0,
        )

    def _rates(self, limits: QuotaLimits, user_key: str, channel_key: str) -> Refusal | None:
        checks = (
            (user_key, limits.user_requests, "you've reached your limit of"),
            (channel_key, limits.channel_requests, "this channel has reached its limit of"),
        )
        for key, rate, who in checks:
            if rate is None:
                continue
            wait = self._wait(key, rate)
            if wait > 0:
                return Refusal(
                    text=f"Sorry, {who} {rate.calls} questions per {rate.per}. {self._retry(wait)}",
                    retry_in_s=wait,
                )
        return None

    def _wait(self, key: str, rate: Rate) -> float:
        """Seconds until one more question fits in `key`'s window (0: it fits now)."""
        times = self._windows.get(key)
        if times is None:
            return 0.0
        now = self._clock.now()
        while times and times[0] <= now - rate.window_s:
            times.popleft()
        if len(times) < rate.calls:
            return 0.0
        return times[len(times) - rate.calls] + rate.window_s - now

    async def _budgets(
        self, limits: QuotaLimits, ref: ConversationRef, author: Author
    ) -> Refusal | None:
        if self._ledger is None or not (
            limits.user_tokens_per_day or limits.channel_tokens_per_day
        ):
            return None
        now = self._wall()
        since = period_start("today", now)
        checks = (
            (limits.user_tokens_per_day, {"user_id": author.id}, "you've used today's allowance"),
            (
                limits.channel_tokens_per_day,
                {"channel_id": ref.channel_id},
                "this channel has used today's allowance",
            ),
        )
        for budget, who, words in checks:
            if not budget:
                continue
            used = await self._ledger.tokens_since(
                since, platform=ref.platform, workspace_id=ref.workspace_id, **who
            )
            if used >= budget:
                wait = (next_day(now) - now).total_seconds()
                return Refusal(
                    text=f"Sorry, {words} of {budget:,} tokens. It renews at 00:00 UTC; "
                    f"{self._retry(wait, lead='please')}",
                    retry_in_s=wait,
                )
        return None

    def _retry(self, wait_s: float, *, lead: str = "Please") -> str:
        at = self._wall() + timedelta(seconds=wait_s)
        return f"{lead} try again in {_duration(wait_s)} (at {at:%H:%M} UTC)."


def _duration(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
