"""Outbound core messages: what the core asks an adapter's pure `render` to draw."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True, kw_only=True)
class Citation:
    """One cited knowledge-base chunk, numbered as the answer's [n] marker."""

    number: int
    title: str
    source: str
    """A path or URL; adapters link it when it is a URL."""
    section: str = ""


class ButtonStyle(StrEnum):
    PRIMARY = "primary"
    DANGER = "danger"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """A button whose click comes back as ButtonClick(action, approval_id)."""

    label: str
    action: str
    """"approve" or "deny"."""
    approval_id: str
    """A short opaque id (Discord custom_id ≤ 100 chars): all the state a button carries."""
    style: ButtonStyle = ButtonStyle.DEFAULT


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    text_markdown: str
    """CommonMark; each adapter renders it to its own dialect."""
    citations: tuple[Citation, ...] = ()
    buttons: tuple[Button, ...] = ()
    final: bool = True
    """False while a streamed reply is still growing (adapters may show a typing cue)."""

    @classmethod
    def text(cls, markdown: str, *, final: bool = True) -> OutgoingMessage:
        return cls(text_markdown=markdown, final=final)
