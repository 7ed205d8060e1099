"""Outbound core messages: what the core asks an adapter's pure `render` to draw."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

ACTION_ID_CHARS = 90
"""`len(Action.id) + len(Action.value)` stays within this, so `parley:<id>:<value>` fits
Discord's 100-char custom_id (and every other platform's action field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """One cited knowledge-base chunk, numbered as the answer's [n] marker."""

    number: int
    title: str
    source: str
    """A path or URL; adapters link it when it is a URL."""
    section: str = ""


class ActionStyle(StrEnum):
    PRIMARY = "primary"
    DANGER = "danger"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A button. A click comes back as `ActionClick(action_id=id, value=value)`, also after a
    restart: the id and value are all the state it carries."""

    id: str
    """What the click does, e.g. "approve", "deny", "cancel"."""
    label: str
    value: str = ""
    """A short opaque argument, e.g. an approval id."""
    style: ActionStyle = ActionStyle.DEFAULT

    def __post_init__(self) -> None:
        if ":" in self.id or len(self.id) + len(self.value) > ACTION_ID_CHARS or not self.id:
            raise ValueError(
                f"action id {self.id!r} / value {self.value!r}: the id must be non-empty without "
                f"':', and both together at most {ACTION_ID_CHARS} chars"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    text_markdown: str
    """CommonMark; each adapter renders it to its own dialect."""
    citations: tuple[Citation, ...] = ()
    actions: tuple[Action, ...] = ()
    final: bool = True
    """False while a streamed reply is still growing (adapters may show a typing cue)."""
    reply_to: str = ""
    """A platform message this one answers (Discord's reply reference); set by the core on the
    first message of a reply placed as a reply. Adapters without replies ignore it."""

    @classmethod
    def text(cls, markdown: str, *, final: bool = True) -> OutgoingMessage:
        return cls(text_markdown=markdown, final=final)
