"""Discord REST calls for the delivery path, with Discord's answers turned into typed errors.

Why not discord.py's `HTTPClient` for these calls: it is built to hide rate limits. On a 429 it
sleeps Retry-After and tries again (and `max_ratelimit_timeout` cannot go below 30 s); when a
bucket's X-RateLimit-Remaining reaches 0 it sleeps until the reset inside the very call that
used the last slot; on a 5xx it sleeps and retries up to five times. Parley's delivery engine is
the one retry and pacing policy (it must drop stale frames and wait fairly across replies), so
the calls it makes go through this thin client instead, which never waits and never retries:
- 2xx → the JSON body (None for 204);
- every answer with X-RateLimit-Remaining / -Reset-After → one `Announcement` to the listener
  (scope THREAD: Discord's message buckets are per channel, and a thread is a channel of its
  own), so the budget tightens before
  Discord has to say 429;
- 429 → `RateLimited(retry_after)` (the body's float, else the Retry-After header), code
  "global" when Discord says the global limit was hit;
- 400 with 50035 on `content` → `MessageTooLong(length, 2000)`; 403 → `PlatformError(code=
  "50013")`, and one log line naming the permission and the channel (once per channel and
  permission in `FORBIDDEN_LOG_S`, remembered for the last `FORBIDDEN_LOG_KEYS` pairs: the
  delivery engine retries a final write a few times, and an operator needs the line once, not
  per retry); anything else →
  `PlatformError(method=, code=)` with Discord's code; a network failure → PlatformError
  ("network_error").
discord.py still owns the gateway, login and its own start-up calls.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from typing import Any

import aiohttp

from bot.adapter import Announcement, RateListener
from bot.capabilities import Op, RateScope
from bot.errors import MessageTooLong, PlatformError, RateLimited
from bot.logs import get_logger
from bot.refs import ConversationRef

log = get_logger("adapters.discord")

MAX_CONTENT = 2000
FORBIDDEN_LOG_S = 600.0
FORBIDDEN_LOG_KEYS = 256
_PERMISSION_CODES = {50001: "View Channel", 50013: ""}


class DiscordRest:
    def __init__(self, *, api_url: str, token: str, timeout_s: float = 15.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.listener: RateListener | None = None
        self._forbidden_logged: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        ref: ConversationRef | None = None,
        op: Op | None = None,
        permission: str = "",
        params: dict[str, str] | None = None,
        auth: bool = True,
    ) -> Any:
        """One request; see the module docstring for what each answer becomes. `permission`
        names what a 403 means here ("Send Messages"), for the log line."""
        if self._session is None:
            raise PlatformError("Discord adapter is not started", method=path, code="not_started")
        headers = {"Authorization": f"Bot {self._token}"} if auth else {}
        name = f"{method} {_template(path)}"
        try:
            async with self._session.request(
                method, self.api_url + path, json=body, headers=headers, params=params
            ) as response:
                text = await response.text()
                self._announce(response.headers, ref, op)
                if response.status < 300:
                    return json.loads(text) if text else None
                data = _json(text)
                raise self._error(response, data, name, path, body, permission)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError(
                f"Discord unreachable: {exc!r}", method=name, code="network_error"
            ) from exc

    def _announce(self, headers: Any, ref: ConversationRef | None, op: Op | None) -> None:
        listener = self.listener
        remaining, reset_after = (
            headers.get("X-RateLimit-Remaining"),
            headers.get("X-RateLimit-Reset-After"),
        )
        if (
            listener is None
            or ref is None
            or op is None
            or remaining is None
            or reset_after is None
        ):
            return
        try:
            announcement = Announcement(
                ref=ref,
                op=op,
                scope=RateScope.THREAD,
                remaining=int(remaining),
                reset_after_s=float(reset_after),
            )
        except ValueError:
            return
        listener(announcement)

    def _log_forbidden(self, permission: str, channel: str, code: int, call: str) -> None:
        now, key = time.monotonic(), (channel, permission)
        last = self._forbidden_logged.get(key)
        if last is not None and now - last < FORBIDDEN_LOG_S:
            return
        self._forbidden_logged[key] = now
        self._forbidden_logged.move_to_end(key)
        while len(self._forbidden_logged) > FORBIDDEN_LOG_KEYS:
            self._forbidden_logged.popitem(last=False)
        log.warning(
            "discord.missing_permission",
            permission=permission,
            channel=channel,
            code=code,
            call=call,
        )

    def _error(
        self,
        response: aiohttp.ClientResponse,
        data: dict[str, Any],
        name: str,
        path: str,
        body: Any,
        permission: str,
    ) -> PlatformError:
        status, code = response.status, int(data.get("code") or 0)
        if status == 429:
            retry_after = data.get("retry_after") or response.headers.get("Retry-After") or 1.0
            is_global = (
                bool(data.get("global")) or response.headers.get("X-RateLimit-Global") == "true"
            )
            return RateLimited(
                float(retry_after), method=name, code="global" if is_global else "rate_limited"
            )
        if code == 50035 and "content" in (data.get("errors") or {}):
            length = len(str((body or {}).get("content") or ""))
            return MessageTooLong(length, MAX_CONTENT, method=name)
        if status == 403:
            self._log_forbidden(
                permission or _PERMISSION_CODES.get(code, "") or "View Channel",
                _channel_of(path),
                code,
                name,
            )
        message = str(data.get("message") or f"HTTP {status}")
        return PlatformError(
            f"Discord refused {name}: {status} {message} ({code})",
            method=name,
            code=str(code or status),
            permanent=status == 403,
        )


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {"message": text[:200]}
    return data if isinstance(data, dict) else {"message": str(data)[:200]}


def _template(path: str) -> str:
    """The route with ids and interaction tokens replaced (logs and errors never show a token)."""
    parts = path.split("?")[0].split("/")
    if len(parts) > 3 and parts[1] in ("webhooks", "interactions"):
        parts[3] = "{token}"
    return "/".join("{id}" if part.isdigit() else part for part in parts)


def _channel_of(path: str) -> str:
    parts = path.split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "channels" else ""
