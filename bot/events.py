"""Inbound core events: what an adapter's pure `normalize` turns a platform payload into.

Every event carries its `Origin`: how to answer it (the platform message to reply to, an opaque
token with its lifetime, the deadline for a first response). The core answers through it; see
docs/architecture.md ("Origins").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef


class OriginKind(StrEnum):
    MESSAGE = "message"
    """Someone wrote a message (a mention, a DM, a thread follow-up)."""
    COMMAND = "command"
    """A slash or app command (Slack /parley, Discord /ask)."""
    ACTION = "action"
    """A click on one of the bot's buttons."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """How to answer one inbound event: its lifecycle, carried on the event itself."""

    kind: OriginKind
    message_id: str = ""
    """The platform message to reply to: the user's message, or the card that was clicked."""
    token: str = ""
    """Opaque adapter data for answering this event (Slack response_url, Discord interaction
    token); the core never reads it, only whether it is still valid."""
    token_ttl_s: float = 0.0
    """How long `token` stays usable after the event was received (Discord 15 min, Slack 30
    min); 0 when there is no token."""
    respond_within_s: float = 0.0
    """The platform's deadline for the first response (Slack 3 s, Discord 3 s, Teams invoke
    ~5 s); 0 when there is none the core must meet (the adapter already acknowledged)."""
    deferred: bool = False
    """The adapter acknowledged with a loading state ("thinking…") that the first write through
    this origin replaces (Discord's deferred interaction response)."""
    received_at: float | None = None
    """Clock time the core received the event (stamped by the pipeline when the adapter left it
    unset): `token_ttl_s` and `respond_within_s` count from here."""

    def stamped(self, now: float) -> Origin:
        return self if self.received_at is not None else replace(self, received_at=now)

    def token_valid(self, now: float, *, margin_s: float = 5.0) -> bool:
        """True while the token can still be used (with `margin_s` to spare for the call)."""
        if not self.token or self.token_ttl_s <= 0:
            return False
        start = self.received_at if self.received_at is not None else now
        return now < start + self.token_ttl_s - margin_s

    def time_left(self, now: float) -> float | None:
        """Seconds left before the first-response deadline, None when there is none."""
        if self.respond_within_s <= 0:
            return None
        start = self.received_at if self.received_at is not None else now
        return start + self.respond_within_s - now


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    name: str
    url: str = ""
    content_type: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingMessage:
    event_id: str
    """Platform-unique id used for dedupe across retries, restarts and workers."""
    ref: ConversationRef
    """Where the message was written (the core decides where the answer goes)."""
    author: Author
    text: str
    """The message text with the bot's own mention removed."""
    origin: Origin
    mentions_bot: bool = False
    replies_to_bot: bool = False
    """The platform says this message answers one of the bot's own (a Discord reply reference
    to the bot, a Slack thread the bot started): a follow-up without a mention."""
    attachments: tuple[Attachment, ...] = ()

    @property
    def is_direct(self) -> bool:
        return self.ref.is_direct


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A slash or app command, as the text after the command name: `/parley kb search x` →
    text "kb search x"; Discord's `/kb search query:x` → "kb search x". The core parses it with
    its one command grammar (`bot.core.grammar`)."""

    event_id: str
    ref: ConversationRef
    author: Author
    text: str
    origin: Origin


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionClick:
    """A click on a button the bot rendered from an `Action`."""

    event_id: str
    ref: ConversationRef
    author: Author
    action_id: str
    """`Action.id`, e.g. "approve"."""
    value: str
    """`Action.value`, e.g. the approval id: all the state a button carries."""
    origin: Origin
    """`origin.message_id` is the card that carried the button."""


Event = IncomingMessage | Command | ActionClick


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    """What a click shows at once. Adapters whose platform answers a click synchronously
    (`Capabilities.action_response`: Teams `Action.Execute`, Discord's interaction callback) put
    it in that response; for the others the core applies it through the delivery engine."""

    update: OutgoingMessage | None = None
    """The clicked card's new content (e.g. who decided)."""
    private: OutgoingMessage | None = None
    """A note only the clicker sees (e.g. "you can't approve this")."""
