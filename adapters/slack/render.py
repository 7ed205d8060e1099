"""OutgoingMessage → Slack message payload (`text` + Block Kit `blocks`): pure.

Why mrkdwn and not the `markdown` block: we convert Markdown to mrkdwn ourselves
(`adapters.slack.mrkdwn`) and always send it as the message's `text`. That text is what Slack
shows in notifications, search and the 4,000-char `chat.update` limit is measured on, so
rendering it ourselves keeps one string that is displayed, counted and golden-tested; it works
on every surface (postMessage, update, postEphemeral, response_url); and unbalanced markers in a
half-streamed answer are made inert by a real parser instead of being guessed at by Slack. The
`markdown` block renders headings and tables more faithfully, but Slack renders it server-side
(untestable here), it is display-only (notifications fall back to `text` anyway, so we would
keep two renderings in sync) and it shares a 12,000-char budget per payload. Native streaming
(`chat.appendStream`) takes standard Markdown itself, so that path sends the source unchanged.

A plain answer is `text` alone. When there are citations or actions (buttons), `blocks` carry the body as
`section` blocks (≤ 3,000 chars each, cut like long replies are: `bot.delivery.split_text`, code
fences closed and reopened), then one compact `context` block of sources, then an `actions`
block; `text` stays as the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.slack.mrkdwn import escape, to_mrkdwn
from adapters.slack.normalize import ACTION_PREFIX
from bot.delivery.splitting import split_text
from bot.messages import Action, ActionStyle, Citation, OutgoingMessage

SECTION_LIMIT = 3000
CONTEXT_LIMIT = 3000
BUTTON_LABEL_LIMIT = 75
EMPTY_TEXT = "…"
"""Slack refuses an empty message; a placeholder with no text yet shows this."""

Block = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackMessage:
    text: str
    """mrkdwn; the displayed text, or the notification fallback when `blocks` is set."""
    blocks: list[Block] = field(default_factory=list)


def render(message: OutgoingMessage) -> SlackMessage:
    text = to_mrkdwn(message.text_markdown) or EMPTY_TEXT
    if not message.citations and not message.actions:
        return SlackMessage(text=text)
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in split_sections(text, SECTION_LIMIT)
    ]
    if message.citations:
        blocks.append(sources_block(message.citations))
    if message.actions:
        blocks.append(actions_block(message.actions))
    return SlackMessage(text=text, blocks=blocks)


def sources_block(citations: tuple[Citation, ...]) -> Block:
    parts = [_source(c) for c in sorted(citations, key=lambda c: c.number)]
    text = "*Sources:* " + " · ".join(parts)
    if len(text) > CONTEXT_LIMIT:
        text = text[: CONTEXT_LIMIT - 1] + "…"
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _source(citation: Citation) -> str:
    title = citation.title or citation.source
    if citation.section:
        title = f"{title} › {citation.section}"
    label = escape(title.replace("|", "¦"))
    if citation.source.startswith(("http://", "https://")):
        href = citation.source.replace("&", "&amp;").replace(">", "%3E").replace("|", "%7C")
        return f"[{citation.number}] <{href}|{label}>"
    if citation.source and citation.source != title:
        return f"[{citation.number}] {label} (`{escape(citation.source)}`)"
    return f"[{citation.number}] {label}"


def actions_block(actions: tuple[Action, ...]) -> Block:
    """Buttons; each one's value is `Action.value` and nothing else."""
    values = sorted({a.value for a in actions})
    return {
        "type": "actions",
        "block_id": f"{ACTION_PREFIX}actions:{','.join(values)}"[:255],
        "elements": [_button(a) for a in actions],
    }


def _button(action: Action) -> Block:
    element: Block = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{action.id}",
        "text": {"type": "plain_text", "text": action.label[:BUTTON_LABEL_LIMIT], "emoji": True},
        "value": action.value,
    }
    if action.style is not ActionStyle.DEFAULT:
        element["style"] = action.style.value
    return element


def split_sections(text: str, limit: int) -> list[str]:
    """Cut mrkdwn into pieces of at most `limit` chars at the best boundary (the delivery
    engine's `split_text`): a piece that ends inside a ``` fence closes it and the next one
    reopens it."""
    return [part.text for part in split_text(text, limit)]
