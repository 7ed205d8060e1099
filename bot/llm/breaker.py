"""A circuit breaker per provider, so a provider that keeps failing is skipped for a while.

States: **closed** (calls flow; consecutive failures are counted) → after `failure_threshold`
consecutive failures → **open** (every call is skipped) → once `reset_after_s` have passed on the
injected clock → **half-open** (exactly one trial call is let through; others are still skipped).
The trial's success closes the breaker; its failure opens it again for another `reset_after_s`.
A trial that ends with neither (the caller went away) frees the slot for the next trial.

One "call" is one whole provider attempt as the router sees it, after our retries: a flaky
provider that answers on the second try is healthy.
"""

from __future__ import annotations

from typing import Literal

from bot.clock import Clock

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, *, clock: Clock, failure_threshold: int = 5, reset_after_s: float = 60.0
    ) -> None:
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock.now() - self._opened_at >= self.reset_after_s:
            return "half_open"
        return "open"

    @property
    def retry_in_s(self) -> float:
        """Seconds until the next trial is allowed (0 when calls may go through)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_after_s - self._clock.now())

    def allow(self) -> bool:
        """May a call go out now? In half-open state this claims the single trial slot."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._trial_in_flight:
            return False
        self._trial_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_in_flight or self._failures >= self.failure_threshold:
            self._opened_at = self._clock.now()
        self._trial_in_flight = False

    def trip(self) -> None:
        """Open now, whatever the count (a provider that hung: do not wait for it again)."""
        self._failures = max(self._failures, self.failure_threshold)
        self._opened_at = self._clock.now()
        self._trial_in_flight = False

    def release(self) -> None:
        """The call ended without a verdict (e.g. cancelled): let another trial through."""
        self._trial_in_flight = False
