"""Our one retry policy for LLM calls (the SDKs' own retries are switched off).

How it works: a provider stream is opened and awaited up to its *first* event inside a tenacity
`AsyncRetrying` loop. Failures before that point (429, 5xx, timeouts, lost connections — every
`RetryableLLMError`) are retried; `FatalLLMError` (auth, validation) never is. Once the first event
exists it is yielded and the rest of the stream passes straight through: an error after that point
propagates unretried, so text the user has already seen is never produced twice.

Waits: when the server sent Retry-After we wait exactly that (capped at `retry_after_cap_s`);
otherwise exponential backoff with full jitter, `uniform(0, min(max_delay_s, base_delay_s * 2**n))`.
No new attempt starts `max_elapsed_s` or more after the first one began (so a hanging provider
costs the user a bounded wait). Sleep, clock and randomness are injected: tests never really wait.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from bot.clock import Clock, MonotonicClock
from bot.llm.errors import LLMError, RetryableLLMError
from bot.llm.types import StreamEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    max_retries: int = 3
    """Extra attempts after the first (LLM_MAX_RETRIES)."""
    base_delay_s: float = 0.5
    """Backoff ceiling of the first retry; it doubles per attempt."""
    max_delay_s: float = 8.0
    """Largest backoff ceiling without Retry-After."""
    retry_after_cap_s: float = 30.0
    """Longest Retry-After we honour; a longer one is cut to this."""
    max_elapsed_s: float | None = None
    """No new attempt starts after this many seconds since the first began; None = no limit."""

    def delay(self, attempt: int, error: BaseException | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if isinstance(error, LLMError) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_cap_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return rng.uniform(0.0, ceiling)


async def stream_with_retry(
    open_stream: Callable[[], AsyncIterator[StreamEvent]],
    policy: RetryPolicy,
    *,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    provider: str = "",
) -> AsyncIterator[StreamEvent]:
    """Yield the events of `open_stream()`, retrying per `policy` until the first event."""
    clock = clock or MonotonicClock()
    rng = rng or random.Random()
    started = clock.now()

    def stop(state: RetryCallState) -> bool:
        if stop_after_attempt(policy.max_retries + 1)(state):
            return True
        limit = policy.max_elapsed_s
        # tenacity computes the wait before asking `stop`: refuse a retry that would start late.
        return limit is not None and clock.now() + state.upcoming_sleep - started >= limit

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return policy.delay(state.attempt_number, error, rng)

    async def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "llm_retry",
            provider=provider,
            attempt=state.attempt_number,
            error=getattr(error, "summary", type(error).__name__),
            wait_s=round(state.upcoming_sleep, 3),
        )

    retrying = AsyncRetrying(
        sleep=clock.sleep,
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(RetryableLLMError),
        before_sleep=before_sleep,
        reraise=True,
    )
    stream: AsyncIterator[StreamEvent] | None = None
    first: StreamEvent | None = None
    async for attempt in retrying:
        with attempt:
            stream = open_stream()
            try:
                first = await anext(stream)
            except StopAsyncIteration:
                raise RetryableLLMError("empty response", provider=provider) from None
            except BaseException:
                await _close(stream)
                raise
    assert stream is not None and first is not None
    try:
        yield first
        async for event in stream:
            yield event
    finally:
        await _close(stream)


async def _close(stream: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
