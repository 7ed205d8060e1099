"""What an adapter's platform allows, declared as data; policy lives in `bot.delivery`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RateScope(StrEnum):
    """The unit a platform's edit rate limit is counted per."""

    WORKSPACE = "workspace"
    CHANNEL = "channel"
    THREAD = "thread"


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    max_post_chars: int
    """Longest text one new message may carry."""
    max_edit_chars: int
    """Longest text an edit may carry; longer replies roll over into a new message."""
    min_edit_interval_s: float
    """Least time between two edits of one message."""
    rate_scope: RateScope
    """Which edits share one budget."""
    edits_per_window: int
    """How many edits (and posts) one scope may make per `rate_window_s`."""
    rate_window_s: float
    post_interval_s: float = 0.0
    """Least time between two new messages in one channel once `post_burst` is spent; 0 means
    posts are limited only by the scope's budget."""
    post_burst: int = 1
    """How many new messages one channel may take at once before `post_interval_s` applies."""
    native_stream: bool = False
    """The adapter can open a platform-native stream (`open_native_stream`)."""
    buttons: bool = True
    """The platform shows clickable buttons; if False, approvals are decided by typed commands."""
    ephemeral: bool = False
    """The platform can show a message to one person only."""

    @property
    def budget_interval_s(self) -> float:
        """The floor between two edits in one scope when the budget is fully used."""
        return self.rate_window_s / self.edits_per_window
