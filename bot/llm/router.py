"""`LLMRouter`: the `ChatModel` the core uses — fallback across providers in LLM_PROVIDERS order.

How one `stream(request)` goes:

1. For each provider in order, skip it if its circuit breaker is open.
2. Open its stream through `stream_with_retry` (our retry policy, up to the first event).
3. Just before the first event, yield `Answering(provider, model)`; then pass every event through.
4. If the provider fails *before* producing anything, note a short reason and try the next one.
   If it fails *after* output was shown, raise `StreamInterrupted`: falling back then would show
   the user a second, different answer glued to the first.
5. If no provider answers, raise `AllProvidersFailed` (a `bot.errors.ProviderError`) whose message
   is short, names each provider's reason, and never contains a key or an SDK message.

Breakers count whole calls (after retries). Validation errors (400/404/422) are about the request,
not the provider's health, so they do not count towards opening a breaker. A provider that timed
out opens its breaker at once, so the next question does not wait for it again.

The deadline bounds one `stream` call from its start to the end of its stream, over every
provider and retry: the request's `deadline_s` (the model time its turn has left, see
`bot.core.model_time`), else LLM_TURN_DEADLINE_S. Each provider still to be tried gets an equal
share of what is left for its *first* event, so a hanging first provider leaves time for the
second and the user hears back within the deadline. A stream that has begun may use all that is
left; if it has not ended by then it is cut: the router ends it with `Finish(reason="deadline")`
after the text already shown. That provider is not paused for it (it did answer, perhaps only
slowly); one that sent nothing in its share is. Timing runs on the injected clock through
`bot.llm.watch`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import AsyncIterator, Sequence

import structlog
from pydantic import SecretStr

from bot import metrics
from bot.clock import Clock, MonotonicClock
from bot.llm.breaker import CircuitBreaker
from bot.llm.errors import (
    AllProvidersFailed,
    FatalLLMError,
    LLMError,
    ProviderTimedOut,
    StreamInterrupted,
)
from bot.llm.retry import RetryPolicy, stream_with_retry
from bot.llm.types import Answering, Finish, LLMProvider, LLMRequest, StreamEvent, Usage
from bot.llm.watch import LATE, Marker, Watched
from bot.settings import Settings

log = structlog.get_logger(__name__)

_REQUEST_ERRORS = frozenset({400, 404, 413, 422})


class LLMRouter:
    def __init__(
        self,
        providers: Sequence[LLMProvider],
        *,
        policy: RetryPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        failure_threshold: int = 5,
        reset_after_s: float = 60.0,
        turn_deadline_s: float | None = None,
    ) -> None:
        self.providers = tuple(providers)
        self.turn_deadline_s = turn_deadline_s
        self.policy = policy or RetryPolicy()
        self._clock = clock or MonotonicClock()
        self._rng = rng or random.Random()
        self.breakers = {
            p.name: CircuitBreaker(
                clock=self._clock, failure_threshold=failure_threshold, reset_after_s=reset_after_s
            )
            for p in self.providers
        }

    @property
    def available(self) -> bool:
        return bool(self.providers)

    async def aclose(self) -> None:
        """Close every provider's HTTP client; call once at shutdown."""
        for provider in self.providers:
            aclose = getattr(provider, "aclose", None)
            if aclose is not None:
                await aclose()

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        failures: list[tuple[str, str]] = []
        limit = request.deadline_s if request.deadline_s is not None else self.turn_deadline_s
        deadline = self._clock.now() + limit if limit is not None else None
        for index, provider in enumerate(self.providers):
            breaker = self.breakers[provider.name]
            if not breaker.allow():
                wait = round(breaker.retry_in_s)
                failures.append(
                    (provider.name, f"paused after repeated failures, retry in {wait}s")
                )
                metrics.LLM_FALLBACKS.labels(provider.name).inc()
                continue
            produced, started = False, self._clock.now()
            share = self._share(deadline, len(self.providers) - index)
            watched = Watched(
                stream_with_retry(
                    functools.partial(provider.stream, request),
                    self.policy,
                    clock=self._clock,
                    rng=self._rng,
                    provider=provider.name,
                ),
                clock=self._clock,
                first_by=None if share is None else started + share,
                end_by=deadline,
            )
            try:
                event = await watched.next()
                if event is LATE:
                    raise ProviderTimedOut(
                        f"no answer within {_seconds(share)}", provider=provider.name
                    )
                produced = True
                metrics.LLM_FIRST_TOKEN_SECONDS.labels(provider.name).observe(
                    self._clock.now() - started
                )
                yield Answering(provider=provider.name, model=provider.model)
                finished = False
                while not isinstance(event, Marker):
                    if isinstance(event, Usage):
                        metrics.record_usage(provider.name, event.input_tokens, event.output_tokens)
                    finished = finished or isinstance(event, Finish)
                    yield event
                    event = await watched.next()
                if event is LATE and not finished:
                    log.warning(
                        "llm_turn_deadline",
                        provider=provider.name,
                        model=provider.model,
                        after_s=round(self._clock.now() - started, 1),
                    )
                    metrics.LLM_REQUESTS.labels(provider.name, "deadline").inc()
                    breaker.release()  # it answered, perhaps slowly: no reason to pause it
                    yield Finish(reason="deadline")
                    return
            except LLMError as error:
                if isinstance(error, ProviderTimedOut):
                    breaker.trip()
                elif not (isinstance(error, FatalLLMError) and error.status in _REQUEST_ERRORS):
                    breaker.record_failure()
                log.warning(
                    "llm_provider_failed",
                    provider=provider.name,
                    model=provider.model,
                    error=error.summary,
                    status=error.status,
                    after_output=produced,
                    breaker=breaker.state,
                )
                metrics.LLM_REQUESTS.labels(
                    provider.name, "interrupted" if produced else "error"
                ).inc()
                if produced:
                    raise StreamInterrupted(provider.name, error.summary) from error
                failures.append((provider.name, error.summary))
                metrics.LLM_FALLBACKS.labels(provider.name).inc()
                continue
            except BaseException:  # the consumer went away (closed or cancelled) mid-call
                breaker.release()
                raise
            else:
                breaker.record_success()
                metrics.LLM_REQUESTS.labels(provider.name, "ok").inc()
                metrics.LLM_SECONDS.labels(provider.name).observe(self._clock.now() - started)
                return
            finally:
                await watched.close()
        log.error("llm_all_providers_failed", failures=failures)
        raise AllProvidersFailed(failures)

    def _share(self, deadline: float | None, left: int) -> float | None:
        """This provider's time to its first event: an equal part of what the turn has left."""
        if deadline is None:
            return None
        return max(0.0, deadline - self._clock.now()) / max(1, left)


def _seconds(value: float | None) -> str:
    value = value or 0.0
    return f"{value:.0f}s" if value >= 1 else f"{value:.1f}s"


def build_chat_model(
    settings: Settings, *, clock: Clock | None = None, rng: random.Random | None = None
) -> LLMRouter:
    """The router over every configured provider in LLM_PROVIDERS order (empty: no-LLM mode).

    LLM_MODEL names the first provider's model; the others use OPENAI_MODEL / ANTHROPIC_MODEL.
    Each SDK is imported only when its provider is configured.
    """
    providers: list[LLMProvider] = []
    for index, name in enumerate(settings.configured_providers):
        if name == "openai":
            from bot.llm.openai_provider import OpenAIProvider

            providers.append(
                OpenAIProvider.create(
                    api_key=_secret(settings.openai_api_key),
                    base_url=settings.openai_base_url,
                    model=(index == 0 and settings.llm_model) or settings.openai_model,
                    timeout_s=settings.llm_timeout_s,
                )
            )
        elif name == "anthropic":
            from bot.llm.anthropic_provider import AnthropicProvider

            providers.append(
                AnthropicProvider.create(
                    api_key=_secret(settings.anthropic_api_key),
                    base_url=settings.anthropic_base_url,
                    model=(index == 0 and settings.llm_model) or settings.anthropic_model,
                    timeout_s=settings.llm_timeout_s,
                )
            )
    policy = RetryPolicy(
        max_retries=settings.llm_max_retries, max_elapsed_s=2 * settings.llm_timeout_s
    )
    return LLMRouter(
        providers,
        policy=policy,
        clock=clock,
        rng=rng,
        turn_deadline_s=settings.llm_turn_deadline_s,
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
