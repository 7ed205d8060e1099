"""Core message → console text (pure). Markdown stays as it is: it reads well in a terminal."""

from __future__ import annotations

from bot.messages import OutgoingMessage


def render(message: OutgoingMessage) -> str:
    parts = [message.text_markdown.rstrip()]
    if message.citations:
        lines = ["Sources:"]
        for c in message.citations:
            where = f"{c.source} § {c.section}" if c.section else c.source
            lines.append(f"  [{c.number}] {c.title} — {where}")
        parts.append("\n".join(lines))
    if message.actions and message.actions[0].id == "approve":  # other cards say what to type
        approval = message.actions[0].value
        parts.append(f"Approve? [y/n]  (or type /approve {approval} or /deny {approval})")
    return "\n\n".join(p for p in parts if p)
