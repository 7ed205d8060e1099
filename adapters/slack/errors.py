"""Slack Web API failures → Parley's typed errors. Every `ok: false` is raised and logged.

- HTTP 429 / `ratelimited` → `RateLimited(retry_after)` from the Retry-After header.
- `msg_too_long` → `MessageTooLong`.
- anything else (`channel_not_found`, `invalid_auth`, network failures, …) → `PlatformError`
  carrying the Web API method and Slack's error code.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import metrics
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.logs import get_logger

log = get_logger("adapters.slack")

SLACK_TEXT_LIMIT = 4000
"""chat.update refuses longer text with `msg_too_long`."""
DEFAULT_RETRY_AFTER_S = 1.0
PERMANENT = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "missing_scope", "invalid_auth"}
)
"""Errors a retry cannot mend."""


def translate(method: str, exc: SlackApiError, *, text_length: int = 0) -> PlatformError:
    response = exc.response
    code = str(response.get("error", "") or "") if isinstance(response.data, dict) else ""
    if response.status_code == 429 or code in ("ratelimited", "rate_limited"):
        return RateLimited(
            retry_after_of(response.headers), method=method, code=code or "ratelimited"
        )
    if code == "msg_too_long":
        return MessageTooLong(text_length, SLACK_TEXT_LIMIT, method=method)
    return PlatformError(
        f"Slack {method} failed: {code or response.status_code}",
        method=method,
        code=code or f"http_{response.status_code}",
        permanent=code in PERMANENT,
    )


def retry_after_of(headers: Any) -> float:
    value = None
    if headers:
        for key, raw in dict(headers).items():
            if str(key).lower() == "retry-after":
                value = raw[0] if isinstance(raw, list) else raw
    try:
        return max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


async def call(
    method: str, request: Awaitable[AsyncSlackResponse], *, text_length: int = 0
) -> dict[str, Any]:
    """Await one Web API call; return its data or raise a typed error (logged)."""
    try:
        response = await request
    except SlackApiError as exc:
        error = translate(method, exc, text_length=text_length)
        _log(error)
        raise error from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        error = PlatformError(
            f"Slack {method} unreachable: {exc!r}", method=method, code="network_error"
        )
        _log(error)
        raise error from exc
    metrics.PLATFORM_CALLS.labels("slack", method, "ok").inc()
    data = response.data
    return data if isinstance(data, dict) else {}


def _log(error: PlatformError) -> None:
    metrics.record_platform_error("slack", error.method, error.code, isinstance(error, RateLimited))
    if isinstance(error, RateLimited):
        log.info("slack.rate_limited", method=error.method, retry_after=error.retry_after)
    else:
        log.warning("slack.api_error", method=error.method, code=error.code, error=str(error))
