"""Typed LLM errors: what went wrong with one provider call, and whether trying again can help.

Providers translate every SDK exception into one of two classes:

- `RetryableLLMError`: rate limits (429), overload (529), server errors (5xx), timeouts, lost
  connections and streams that ended early. Our retry policy may try again; the router may fall
  back to the next provider.
- `FatalLLMError`: authentication (401/403) and validation (400/404/422) errors. Trying the same
  request again cannot help, so we never retry them (the router still tries the next provider).

`summary` is a short, secret-free phrase for users and logs ("500 server error", "timed out").
The SDK's own message is never shown: it may echo part of an API key. What reaches the user is
`bot.errors.ProviderError` (subclassed here with the per-provider details).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence

from bot.errors import ParleyError, ProviderError
from bot.llm.types import StreamEvent

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_STATUS_WORDS = {
    400: "bad request",
    401: "unauthorized (check the API key)",
    403: "forbidden (check the API key's permissions)",
    404: "not found (check the model name and base URL)",
    408: "request timeout",
    409: "conflict",
    413: "request too large",
    422: "invalid request",
    429: "rate limited",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    529: "overloaded",
}
_SECRETS = re.compile(r"\b(sk|key|api|ak)[-_][A-Za-z0-9_\-*.]{4,}", re.IGNORECASE)


class LLMError(ParleyError):
    """One provider call failed. `status` is the HTTP status when there was one."""

    retryable: bool = False

    def __init__(
        self,
        summary: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(summary)
        self.summary = summary
        self.provider = provider
        self.status = status
        self.retry_after = retry_after
        """Seconds the server asked us to wait (Retry-After), uncapped; None when not given."""


class RetryableLLMError(LLMError):
    """Trying again later may succeed: 429, 5xx, timeouts, connection loss, truncated streams."""

    retryable = True


class ProviderTimedOut(RetryableLLMError):
    """The provider sent nothing in time (an SDK timeout, or its share of the turn's deadline).
    The router opens its breaker at once: the next question should not wait for it again."""


class FatalLLMError(LLMError):
    """Trying the same request again cannot succeed: auth and validation errors."""


def status_error(
    status: int, *, provider: str, retry_after: float | None = None
) -> RetryableLLMError | FatalLLMError:
    """Classify an HTTP status from a provider API."""
    words = _STATUS_WORDS.get(status, "server error" if status >= 500 else "error")
    summary = f"{status} {words}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableLLMError(summary, provider=provider, status=status, retry_after=retry_after)
    return FatalLLMError(summary, provider=provider, status=status)


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove anything that looks like an API key (and the given secrets) from a log detail."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _SECRETS.sub("***", text)[:300]


class AllProvidersFailed(ProviderError):
    """No configured provider produced an answer. `failures` lists (provider, summary)."""

    def __init__(self, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        if failures:
            why = "; ".join(f"{name}: {summary}" for name, summary in failures)
            message = (
                f"The language model is unavailable right now ({why}). "
                f"Please try again in a minute. {operator_hint(failures)}"
            )
        else:
            message = "No language model is configured."
        super().__init__(message)


def operator_hint(failures: Sequence[tuple[str, str]]) -> str:
    """What an admin can do about these failures, in one sentence."""
    text = " ".join(summary for _, summary in failures)
    if "unauthorized" in text or "forbidden" in text:
        return "An admin should check the provider's API key."
    if "not found" in text:
        return "An admin should check the model name and base URL."
    if "no answer within" in text or "timed out" in text or "paused" in text:
        return (
            "An admin can check the provider's status page, add a fallback provider to "
            "LLM_PROVIDERS, or raise LLM_TURN_DEADLINE_S."
        )
    return "If this keeps happening, an admin can check the provider's status page."


class StreamInterrupted(ProviderError):
    """A provider failed after part of the answer was already shown; nothing was retried."""

    def __init__(self, provider: str, summary: str) -> None:
        self.provider = provider
        self.summary = summary
        super().__init__(f"The answer was interrupted ({provider}: {summary}). Please try again.")


_TRANSPORT_MODULES = frozenset({"httpx", "httpx2", "httpcore", "anyio", "h11", "ssl"})


def translate_sdk_error(exc: BaseException, *, provider: str) -> LLMError | None:
    """Map an `openai` / `anthropic` SDK exception (or a raw transport error escaping a stream)
    to our types; None when `exc` is not an API or network error (then it is a bug: let it rise).

    Both SDKs share the same shapes: `APIStatusError` has `status_code` and `response`,
    `APITimeoutError` subclasses `APIConnectionError`, and a plain `APIError` mid-stream is an
    error event inside a 200 response.
    """
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status, int) and status >= 400:
        headers = getattr(response, "headers", None)
        return status_error(status, provider=provider, retry_after=parse_retry_after(headers))
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return ProviderTimedOut("timed out", provider=provider)
    if name == "APIConnectionError" or isinstance(exc, ConnectionError):
        return RetryableLLMError("connection failed", provider=provider)
    if type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES:
        return RetryableLLMError("connection lost", provider=provider)
    if name == "APIResponseValidationError":
        return FatalLLMError("invalid response", provider=provider)
    if name in {"APIError", "APIStatusError"}:
        # An error event inside an otherwise successful (200) stream, e.g. overloaded_error.
        body = getattr(exc, "body", None)
        error = body.get("error", body) if isinstance(body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else None
        what = kind if isinstance(kind, str) and kind.isidentifier() else "error"
        return RetryableLLMError(f"{what} in stream", provider=provider)
    return None


async def with_translated_errors(
    events: AsyncIterator[StreamEvent], *, provider: str
) -> AsyncIterator[StreamEvent]:
    """Pass `events` through, turning SDK exceptions into our typed LLM errors."""
    try:
        async for event in events:
            yield event
    except LLMError:
        raise
    except Exception as exc:
        error = translate_sdk_error(exc, provider=provider)
        if error is None:
            raise
        raise error from exc
