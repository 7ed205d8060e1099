"""Typed errors that cross layer boundaries. Adapters raise these instead of swallowing platform errors."""

from __future__ import annotations


class ParleyError(Exception):
    """Base for the errors Parley raises on purpose."""


class ConfigError(ParleyError):
    """A setting is missing or wrong; the message names the variable and how to fix it."""


class PlatformError(ParleyError):
    """A platform API refused a call (e.g. Slack `ok: false`, Discord 50035)."""

    def __init__(
        self, message: str, *, method: str = "", code: str = "", permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.method = method
        self.code = code
        self.permanent = permanent
        """Retrying cannot help (a missing permission, a channel that is gone): the delivery
        engine stops writing that reply at once instead of retrying it."""


class RateLimited(PlatformError):
    """The platform said 429; wait `retry_after` seconds before the next call in this scope."""

    def __init__(self, retry_after: float, *, method: str = "", code: str = "rate_limited") -> None:
        super().__init__(f"rate limited, retry after {retry_after:.2f}s", method=method, code=code)
        self.retry_after = retry_after


class MessageTooLong(PlatformError):
    """The platform refused a text for its length (Slack msg_too_long, Discord 50035, Teams 413)."""

    def __init__(self, length: int, limit: int | None = None, *, method: str = "") -> None:
        super().__init__(
            f"message of {length} chars is too long", method=method, code="msg_too_long"
        )
        self.length = length
        self.limit = limit


class Unsupported(ParleyError):
    """An adapter was asked for something its platform cannot do."""


class ProviderError(ParleyError):
    """Every configured LLM provider failed for this turn."""
