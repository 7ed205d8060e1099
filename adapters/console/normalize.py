"""Console input line → core event (pure)."""

from __future__ import annotations

from bot.events import ActionClick, Command, Event, IncomingMessage, Origin, OriginKind
from bot.refs import Author, ConversationKind, ConversationRef

CONSOLE_REF = ConversationRef(
    platform="console", workspace_id="local", channel_id="console", kind=ConversationKind.DIRECT
)
YES = frozenset({"y", "yes", "approve"})
NO = frozenset({"n", "no", "deny"})


def normalize(
    line: str, *, seq: int, session: str, user: Author, pending_approval: str | None = None
) -> Event | None:
    """A line of input as an event: `/name args…` is a Command, y/n answers a pending approval
    prompt (terminal only), anything else is a direct message. Blank lines are skipped."""
    text = line.strip()
    if not text:
        return None
    event_id = f"console:{session}:{seq}"
    if pending_approval is not None and text.lower() in YES | NO:
        return ActionClick(
            event_id=event_id,
            ref=CONSOLE_REF,
            author=user,
            action_id="approve" if text.lower() in YES else "deny",
            value=pending_approval,
            origin=Origin(kind=OriginKind.ACTION),
        )
    if text.startswith("/") and len(text) > 1:
        return Command(
            event_id=event_id,
            ref=CONSOLE_REF,
            author=user,
            text=text[1:],
            origin=Origin(kind=OriginKind.COMMAND),
        )
    return IncomingMessage(
        event_id=event_id,
        ref=CONSOLE_REF,
        author=user,
        text=text,
        origin=Origin(kind=OriginKind.MESSAGE),
        mentions_bot=True,
    )
