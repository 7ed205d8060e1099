"""Console input line → core event (pure)."""

from __future__ import annotations

from bot.events import ButtonClick, Command, Event, IncomingMessage
from bot.refs import Author, ConversationRef

CONSOLE_REF = ConversationRef(platform="console", workspace_id="local", channel_id="console")
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
        action = "approve" if text.lower() in YES else "deny"
        return ButtonClick(
            event_id=event_id,
            ref=CONSOLE_REF,
            author=user,
            action=action,
            approval_id=pending_approval,
        )
    if text.startswith("/") and len(text) > 1:
        name, *args = text[1:].split()
        return Command(
            event_id=event_id, ref=CONSOLE_REF, author=user, name=name.lower(), args=tuple(args)
        )
    return IncomingMessage(
        event_id=event_id,
        ref=CONSOLE_REF,
        author=user,
        text=text,
        mentions_bot=True,
        is_direct=True,
    )
