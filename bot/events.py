"""Inbound core events: what an adapter's pure `normalize` turns a platform payload into."""

from __future__ import annotations

from dataclasses import dataclass

from bot.refs import Author, ConversationRef, MessageHandle


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
    author: Author
    text: str
    """The message text with the bot's own mention removed."""
    mentions_bot: bool = False
    is_direct: bool = False
    """A direct message (Slack IM, Discord DM, Teams personal chat)."""
    is_followup: bool = False
    """The adapter judged this un-mentioned thread reply a follow-up to the bot (it was mentioned
    or answered in that thread). Adapters that do not judge leave it False and the core decides
    from its own memory of the thread."""
    attachments: tuple[Attachment, ...] = ()
    message_id: str = ""
    """The platform id of the incoming message itself (used e.g. to thread a reply under it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A slash command or admin command: `/parley kb reindex docs` → name="kb", args=("reindex", "docs")."""

    event_id: str
    ref: ConversationRef
    author: Author
    name: str
    args: tuple[str, ...] = ()
    response_hint: str = ""
    """Opaque adapter data for private replies (e.g. a Slack response_url); the core never reads it."""

    @property
    def text(self) -> str:
        return " ".join(self.args)


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonClick:
    event_id: str
    ref: ConversationRef
    author: Author
    action: str
    """"approve" or "deny"."""
    approval_id: str
    message: MessageHandle | None = None
    """The card that carried the button, so it can be edited to show the decision."""


Event = IncomingMessage | Command | ButtonClick
