"""Private replies through an interaction's `response_url`, within its five uses.

How this works
--------------
Slack lets an app post to a slash command's or click's `response_url` at most
`RESPONSE_URL_USES` (5) times within `RESPONSE_URL_TTL_S` (30 minutes). The core knows the
time limit (it clears an expired token, `bot.delivery.engine`) but not the count, and a private
reply split into six parts, or a command that sends several private notes, would have its sixth
post refused. So the adapter counts, and nothing is lost:

- `ResponseUrls.claim(url)` takes one of the URL's uses before each post; once the five are
  taken it says no, and `send_private` uses `chat.postEphemeral` instead (the path an origin
  without a URL always takes). A use is taken even when the post then fails (a 429 retried by
  the engine takes another): counting a use Slack did not see at worst moves a part to
  `chat.postEphemeral` early, while missing one would lose a part.
- A post Slack refuses because the URL is spent (`used_url`, or `expired_url`: its 30 minutes
  ran out on Slack's clock first) raises `ResponseUrlSpent`; the URL is marked spent and the
  same part goes through `chat.postEphemeral`. This also covers a URL this process never counted
  fully: one used elsewhere, or one evicted from the counts.
- The counts are an `Lru` of `TRACKED_URLS` URLs (the most recently used kept), so memory stays
  bounded however many commands arrive; a URL is only useful for 30 minutes anyway.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.errors import retry_after_of
from adapters.slack.normalize import RESPONSE_URL_USES
from adapters.slack.render import SlackMessage
from bot.core.lru import Lru
from bot.errors import PlatformError, RateLimited
from bot.logs import get_logger

log = get_logger("adapters.slack")

TRACKED_URLS = 1024
"""How many response_urls' use counts are kept (far more than are alive at once)."""
SPENT = frozenset({"used_url", "expired_url"})
"""The codes with which Slack refuses a response_url that can no longer be used."""


class ResponseUrlSpent(PlatformError):
    """Slack refused a response_url as used up or expired; the reply must go another way."""


class ResponseUrls:
    """How many times each response_url has been posted to (see the module docstring)."""

    def __init__(self, *, uses: int = RESPONSE_URL_USES, capacity: int = TRACKED_URLS) -> None:
        self.uses = uses
        self._used: Lru[str, int] = Lru(capacity)

    def claim(self, url: str) -> bool:
        """Take one use of `url`: True if it had one left, False once all are taken."""
        used = self._used.get(url) or 0
        if used >= self.uses:
            return False
        self._used.put(url, used + 1)
        return True

    def spend(self, url: str) -> None:
        """Slack refused `url`: take all its uses."""
        self._used.put(url, self.uses)


async def post_response(
    session: aiohttp.ClientSession | None, response_url: str, payload: SlackMessage
) -> None:
    """Post one ephemeral message through `response_url`; raise a typed error if Slack refuses."""
    webhook = AsyncWebhookClient(response_url, session=session)
    try:
        result = await webhook.send(
            text=payload.text, blocks=payload.blocks or None, response_type="ephemeral"
        )
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise PlatformError(
            f"Slack response_url unreachable: {exc!r}",
            method="response_url",
            code="network_error",
        ) from exc
    if result.status_code == 429:
        raise RateLimited(retry_after_of(result.headers), method="response_url")
    if result.status_code == 200:
        return
    code = str(result.body or "").strip()
    if code in SPENT:
        raise ResponseUrlSpent(
            f"Slack response_url refused: {code}",
            method="response_url",
            code=code,
            permanent=True,
        )
    log.warning("slack.api_error", method="response_url", code=result.body)
    raise PlatformError(
        f"Slack response_url failed: {result.status_code} {result.body}",
        method="response_url",
        code=code or str(result.status_code),
    )
