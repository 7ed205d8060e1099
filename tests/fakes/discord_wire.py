"""The wire pieces of the Discord fake shared by its modules: ids, recorded calls and messages,
Discord's JSON error shape, and the rate limits.

Rate limits as Discord documents them: per-route buckets (here: message creates and edits share
one per channel, follow-ups one per interaction token, typing one per channel) of
`message_limit` calls per `message_window_s`, announced on every answer in X-RateLimit-Limit,
-Remaining, -Reset, -Reset-After and -Bucket; one call over → 429 with Retry-After and
`retry_after` in the body. The global limit, `global_limit` calls per `global_window_s` (Discord:
50 per second) across the bot
(interaction endpoints exempt), → 429 with `global: true` and X-RateLimit-Global.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.discord_api import FakeDiscord


TOKEN = "fake-discord-bot-token"
APPLICATION_ID = "1100000000000000001"
BOT_USER_ID = APPLICATION_ID  # a bot user's id is its application's id
USER_ID = "1200000000000000001"
OTHER_USER_ID = "1200000000000000002"
OTHER_BOT_ID = "1300000000000000001"
GUILD_ID = "1400000000000000001"
CHANNEL_ID = "1500000000000000001"
MAX_CONTENT = 2000
MAX_EMBED_DESCRIPTION = 4096
EPHEMERAL = 64
COMMAND_NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


@dataclass
class Call:
    method: str
    path: str
    route: str
    """The route template, e.g. "POST /channels/{channel_id}/messages"."""
    body: Any
    at: float
    status: int = 0
    code: int = 0
    """Discord's JSON error code (50035, 40060, …), 0 on success."""
    message_id: str = ""
    """The message a successful create / edit / follow-up wrote."""


@dataclass
class FakeMessage:
    id: str
    channel_id: str
    author_id: str
    content: str
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    reference: str = ""
    flags: int = 0
    interaction_id: str = ""
    edits: list[str] = field(default_factory=list)
    """Every content the message showed, in order."""

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON the way Discord sends it: `Content-Type: application/json` with no charset (discord.py
    compares the header exactly)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class DiscordError(Exception):
    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


@dataclass
class Bucket:
    limit: int
    window_s: float
    name: str
    count: int = 0
    reset_at: float = 0.0


class RateLimits:
    """The fake's buckets and its global window; counts its 429s on the fake."""

    def __init__(self, api: FakeDiscord) -> None:
        self.api = api
        self._buckets: dict[str, Bucket] = {}
        self._global: list[float] = []

    def bucket_for(self, request: web.Request, path: str) -> Bucket | None:
        info = request.match_info
        if (
            path.startswith("/channels/{channel_id}/messages")
            and request.method in ("POST", "PATCH")
            and not path.endswith("threads")
        ):
            key, name = f"messages:{info['channel_id']}", "channel-messages"
        elif path.startswith("/webhooks"):
            key, name = f"webhook:{info['token']}", "webhook"
        elif path == "/channels/{channel_id}/typing":
            key, name = f"typing:{info['channel_id']}", "typing"
        else:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(
                self.api.message_limit, self.api.message_window_s, name
            )
        return bucket

    def take(self, bucket: Bucket) -> web.Response | None:
        now = time.monotonic()
        if now >= bucket.reset_at:
            bucket.count, bucket.reset_at = 0, now + bucket.window_s
        if bucket.count >= bucket.limit:
            self.api.rate_limited += 1
            return self._too_many(bucket.reset_at - now, glob=False, headers=self.headers(bucket))
        bucket.count += 1
        return None

    def take_global(self) -> web.Response | None:
        now = time.monotonic()
        window = self.api.global_window_s
        self._global = [t for t in self._global if t > now - window]
        if len(self._global) >= self.api.global_limit:
            self.api.rate_limited += 1
            self.api.global_rate_limited += 1
            return self._too_many(
                self._global[0] + window - now, glob=True, headers={"X-RateLimit-Global": "true"}
            )
        self._global.append(now)
        return None

    def headers(self, bucket: Bucket) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - time.monotonic())
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": f"fake-{bucket.name}",
        }

    @staticmethod
    def _too_many(retry_after: float, *, glob: bool, headers: dict[str, str]) -> web.Response:
        return json_response(
            {
                "message": "You are being rate limited.",
                "retry_after": round(retry_after, 3),
                "global": glob,
            },
            status=429,
            headers={
                **headers,
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Scope": "global" if glob else "user",
                "Via": "1.1 google",
            },
        )


def check_body(body: dict[str, Any], *, partial: bool = False) -> None:
    content = body.get("content")
    errors: dict[str, Any] = {}
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors["content"] = {
            "_errors": [
                {
                    "code": "BASE_TYPE_MAX_LENGTH",
                    "message": f"Must be {MAX_CONTENT} or fewer in length.",
                }
            ]
        }
    for index, embed in enumerate(body.get("embeds") or []):
        if len(str(embed.get("description") or "")) > MAX_EMBED_DESCRIPTION:
            errors.setdefault("embeds", {})[str(index)] = {
                "description": {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.",
                        }
                    ]
                }
            }
    for row in body.get("components") or []:
        for item in row.get("components") or []:
            if len(str(item.get("custom_id") or "")) > 100:
                errors["components"] = {
                    "_errors": [
                        {
                            "code": "BASE_TYPE_MAX_LENGTH",
                            "message": "custom_id: Must be 100 or fewer in length.",
                        }
                    ]
                }
    if errors:
        raise DiscordError(400, 50035, "Invalid Form Body", errors)
    if not partial and not content and not body.get("embeds") and not body.get("components"):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def check_command(command: dict[str, Any], depth: int = 0) -> None:
    name, description = str(command.get("name", "")), str(command.get("description", ""))
    if not COMMAND_NAME.match(name) or not 1 <= len(description) <= 100:
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {
                "name": {
                    "_errors": [
                        {
                            "code": "APPLICATION_COMMAND_INVALID_NAME",
                            "message": f"bad name/description: {name!r}",
                        }
                    ]
                }
            },
        )
    options = command.get("options") or []
    if len(options) > 25:
        raise DiscordError(400, 50035, "Invalid Form Body")
    for option in options:
        if option.get("type") not in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) or (
            option["type"] in (1, 2) and depth >= 2
        ):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {"options": {"_errors": [{"code": "BAD_OPTION", "message": str(option)}]}},
            )
        _check_option_values(option)
        check_command(option, depth + 1)
    required = [bool(o.get("required")) for o in options if o.get("type") not in (1, 2)]
    if required != sorted(required, reverse=True):
        raise DiscordError(  # Discord: required options must be listed before optional ones
            400,
            50035,
            "Invalid Form Body",
            {"options": {"_errors": [{"code": "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"}]}},
        )


_CHOICE_TYPES: dict[int, type | tuple[type, ...]] = {3: str, 4: int, 10: (int, float)}
"""STRING, INTEGER, NUMBER: the Python types of their choices' values."""
_CHANNEL_TYPES = frozenset({0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16})


def _check_option_values(option: dict[str, Any]) -> None:
    """`choices` (at most 25, names 1-100 chars, values of the option's type) only on STRING,
    INTEGER and NUMBER options; `channel_types` (known channel types) only on CHANNEL options."""
    kind, choices = option.get("type"), option.get("choices")
    channel_types = option.get("channel_types")
    wrong = (
        choices is not None
        and (
            kind not in _CHOICE_TYPES
            or not 1 <= len(choices) <= 25
            or any(
                not 1 <= len(str(c.get("name", ""))) <= 100
                or not isinstance(c.get("value"), _CHOICE_TYPES[kind])
                for c in choices
            )
        )
    ) or (channel_types is not None and (kind != 7 or not set(channel_types) <= _CHANNEL_TYPES))
    if wrong:
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {"options": {"_errors": [{"code": "BAD_OPTION_VALUES", "message": str(option)}]}},
        )
