"""What an adapter's platform allows, declared as data; policy lives in `bot.delivery` and
`bot.core`. See docs/architecture.md ("Capabilities").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.refs import ConversationKind


class Op(StrEnum):
    """The kinds of platform call a rate limit can count."""

    POST = "post"
    """A new message (placeholders, rollover parts, one-shot posts, opening a native stream)."""
    EDIT = "edit"
    """Replacing a posted message's content."""
    STREAM = "stream"
    """Appending to, or finishing, a platform-native stream."""
    PRIVATE = "private"
    """A message only one person sees (ephemeral, or through an interaction's token)."""
    TYPING = "typing"
    """A typing indicator or native status line."""


class RateScope(StrEnum):
    """The unit a platform counts calls per; narrowest last."""

    GLOBAL = "global"
    """The whole bot (Discord's global limit)."""
    WORKSPACE = "workspace"
    CHANNEL = "channel"
    THREAD = "thread"


SCOPE_ORDER = (RateScope.THREAD, RateScope.CHANNEL, RateScope.WORKSPACE, RateScope.GLOBAL)
"""The order in which a call takes its budgets: narrowest first, so a slot in a wide budget is
never held while a narrow one makes the call wait."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """At most `calls` calls of `ops` per `window_s` seconds in each `scope`: a sliding window,
    or with `burst` a token bucket (`burst` at once, then `calls` per `window_s`)."""

    ops: frozenset[Op]
    scope: RateScope
    calls: int
    window_s: float
    name: str = ""
    """What the platform calls it (e.g. "chat.update"), for logs and metrics."""
    burst: int | None = None
    """Calls allowed at once by a platform that counts with a token bucket."""

    def __post_init__(self) -> None:
        if self.calls < 1 or self.window_s <= 0 or not self.ops:
            raise ValueError(f"rate limit {self.name!r}: needs ops, calls >= 1 and window_s > 0")
        if self.burst is not None and self.burst < 1:
            raise ValueError(f"rate limit {self.name!r}: burst must be >= 1")

    @property
    def interval_s(self) -> float:
        """The floor between two calls once the window is fully used."""
        return self.window_s / self.calls


ALL_OPS = frozenset(Op)
WRITES = frozenset({Op.POST, Op.EDIT, Op.STREAM})


class Placement(StrEnum):
    """Where the answer to a message at the top level of a channel goes."""

    THREAD = "thread"
    """In a thread under the message (Slack threads, Discord threads, Teams reply chains)."""
    REPLY = "reply"
    """In the channel, as a reply referencing the message (Discord's reply)."""
    INLINE = "inline"
    """In the channel, as a plain new message."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    max_post_chars: int
    """Longest text one new message may carry."""
    max_edit_chars: int
    """Longest text an edit may carry; longer replies roll over into a new message."""
    min_edit_interval_s: float
    """Least time between two edits of one message."""
    rate_limits: tuple[RateLimit, ...] = ()
    """Every limit the platform counts; each call takes a slot in every one it falls under."""
    native_stream: frozenset[ConversationKind] = frozenset()
    """Kinds of conversation where the adapter can open a platform-native stream."""
    native_status: bool = False
    """The adapter shows a reply's status natively (`StatusIndicator`); otherwise the status is
    a line under the text that the answer replaces."""
    typing_interval_s: float = 0.0
    """The adapter shows a typing indicator (`Typing`) that lasts this long; 0: none."""
    buttons: bool = True
    """The platform shows clickable buttons; if False, approvals are decided by typed commands."""
    ephemeral: bool = False
    """The platform can show a message to one person only."""
    action_response: bool = False
    """A click's `ActionResult` is shown by the adapter in the platform's synchronous response
    (the sink's return value); otherwise the core applies it through the delivery engine."""
    channel_reply: Placement = Placement.INLINE
    """How an answer to a message at the top level of a channel is placed."""

    def limits_for(self, op: Op) -> tuple[RateLimit, ...]:
        return tuple(limit for limit in self.rate_limits if op in limit.ops)

    def streams_natively(self, kind: ConversationKind) -> bool:
        return kind in self.native_stream

    @property
    def max_chars(self) -> int:
        """The size every part of a reply is kept to (posts and edits alike)."""
        return min(self.max_post_chars, self.max_edit_chars)
