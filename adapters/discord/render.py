"""Core `OutgoingMessage` → Discord message JSON: a pure function.

- Text: Discord renders CommonMark-like markdown itself (bold, italics, code, fences, quotes,
  lists, `#`–`###` headings, masked links), so the text goes through almost as written: deeper
  headings become bold lines and images become links, which Discord would otherwise show raw.
  Nothing is cut here: `content` over 2,000 chars is the adapter's MessageTooLong (the delivery
  engine keeps every part within `Capabilities.max_chars`).
- Citations: one embed, "Sources", a line per source (`[n] [title](url) · section`). An embed's
  description has its own 4,096-char limit, separate from `content`, so sources never push a
  message over 2,000; lines that would pass 4,096 are summed up as "… and N more".
- Buttons: action rows of up to 5 buttons; each custom_id is `parley:<action>:<value>` (≤ 100
  chars, guaranteed by `Action`), so a click decodes without any registry.
- `allowed_mentions` never lets model output ping @everyone, roles or users; a reply pings only
  the person it answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.messages import Action, ActionStyle, Citation, OutgoingMessage

MAX_CONTENT = 2000
MAX_EMBED_DESCRIPTION = 4096
MAX_CUSTOM_ID = 100
CUSTOM_ID_PREFIX = "parley"
EPHEMERAL = 1 << 6
_BUTTONS_PER_ROW, _MAX_ROWS = 5, 5
_STYLES = {ActionStyle.PRIMARY: 1, ActionStyle.DEFAULT: 2, ActionStyle.DANGER: 4}
_DEEP_HEADING = re.compile(r"^#{4,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(`{3,}|~{3,})", re.MULTILINE)


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscordMessage:
    content: str
    embeds: tuple[dict[str, Any], ...] = ()
    components: tuple[dict[str, Any], ...] = ()
    reply_to: str = ""
    flags: int = 0

    def to_json(self) -> dict[str, Any]:
        """The body for a create / edit / follow-up / interaction callback. Edits send
        `embeds` and `components` even when empty, so a decided card loses its buttons."""
        body: dict[str, Any] = {
            "content": self.content,
            "embeds": list(self.embeds),
            "components": list(self.components),
            "allowed_mentions": {"parse": [], "replied_user": bool(self.reply_to)},
        }
        if self.reply_to:
            body["message_reference"] = {"message_id": self.reply_to, "fail_if_not_exists": False}
        if self.flags:
            body["flags"] = self.flags
        return body


def render(message: OutgoingMessage, *, ephemeral: bool = False) -> DiscordMessage:
    embed = sources_embed(message.citations)
    return DiscordMessage(
        content=discord_markdown(message.text_markdown),
        embeds=(embed,) if embed else (),
        components=tuple(action_rows(message.actions)),
        reply_to=message.reply_to,
        flags=EPHEMERAL if ephemeral else 0,
    )


def discord_markdown(text: str) -> str:
    """CommonMark → what Discord shows well; code blocks are left exactly as written."""
    parts = _split_fenced(text)
    return "".join(
        part if fenced else _IMAGE.sub(r"[\1](\2)", _DEEP_HEADING.sub(r"**\1**", part))
        for part, fenced in parts
    )


def _split_fenced(text: str) -> list[tuple[str, bool]]:
    """The text cut into (chunk, inside a code fence) pieces, in order."""
    pieces: list[tuple[str, bool]] = []
    inside, start, fence = False, 0, ""
    for match in _FENCE.finditer(text):
        marker = match.group(1)
        if not inside:
            pieces.append((text[start : match.start()], False))
            inside, start, fence = True, match.start(), marker[0] * 3
        elif marker.startswith(fence):
            end = text.find("\n", match.end())
            end = len(text) if end < 0 else end
            pieces.append((text[start:end], True))
            inside, start = False, end
    pieces.append((text[start:], inside))
    return [p for p in pieces if p[0]]


def sources_embed(citations: tuple[Citation, ...]) -> dict[str, Any] | None:
    if not citations:
        return None
    lines: list[str] = []
    used = 0
    for index, citation in enumerate(citations):
        line = _source_line(citation)
        rest = len(citations) - index
        tail = len(f"\n… and {rest} more")
        if used + len(line) + 1 + (tail if rest > 1 else 0) > MAX_EMBED_DESCRIPTION:
            lines.append(f"… and {rest} more")
            break
        lines.append(line)
        used += len(line) + 1
    return {"title": "Sources", "description": "\n".join(lines)[:MAX_EMBED_DESCRIPTION]}


def _source_line(citation: Citation) -> str:
    title = citation.title.replace("[", "(").replace("]", ")")[:200] or citation.source[:200]
    section = f" · {citation.section[:200]}" if citation.section else ""
    if citation.source.startswith(("https://", "http://")):
        return f"[{citation.number}] [{title}]({citation.source}){section}"
    where = f" · `{citation.source[:300]}`" if citation.source and citation.source != title else ""
    return f"[{citation.number}] {title}{where}{section}"


def action_rows(actions: tuple[Action, ...]) -> list[dict[str, Any]]:
    buttons = [
        {
            "type": 2,
            "style": _STYLES.get(action.style, 2),
            "label": action.label[:80],
            "custom_id": encode_custom_id(action.id, action.value),
        }
        for action in actions[: _BUTTONS_PER_ROW * _MAX_ROWS]
    ]
    return [
        {"type": 1, "components": buttons[i : i + _BUTTONS_PER_ROW]}
        for i in range(0, len(buttons), _BUTTONS_PER_ROW)
    ]


def encode_custom_id(action_id: str, value: str) -> str:
    custom_id = f"{CUSTOM_ID_PREFIX}:{action_id}:{value}"
    if len(custom_id) > MAX_CUSTOM_ID:
        raise ValueError(f"custom_id {custom_id!r} is over Discord's {MAX_CUSTOM_ID} chars")
    return custom_id


def decode_custom_id(custom_id: str) -> tuple[str, str] | None:
    """(action id, value) of one of our buttons, None for anything else."""
    prefix, sep, rest = custom_id.partition(":")
    action_id, sep2, value = rest.partition(":")
    if prefix != CUSTOM_ID_PREFIX or not sep or not sep2 or not action_id:
        return None
    return action_id, value
