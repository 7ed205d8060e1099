"""The seam between a conversation turn and tools.

A turn streams the model's answer; when the model asks for tool calls the turn hands them to the
`ToolHost`. The host either returns results at once (read-only tools run automatically) and the
turn continues, or it pauses the turn: it persists what is needed to resume (the turn's messages
and the pending calls), posts an approval card, and later, when a person decides or the request
expires, calls `TurnResumer.resume` with the messages to continue from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.events import ActionClick, Command
from bot.llm.types import ChatMessage, ToolCall, ToolSpec
from bot.refs import Author, ConversationRef

if TYPE_CHECKING:
    from bot.core.actions import Decision
    from bot.delivery import Delivery


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnContext:
    """What a tool host knows about the turn that called it."""

    ref: ConversationRef
    author: Author
    """The person whose message started the turn (the default approver)."""
    messages: tuple[ChatMessage, ...]
    """The model conversation so far, ending with the assistant message that holds the calls."""
    step: int
    """1-based model step within this turn."""
    turn_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResults:
    """Tool messages to append; the turn continues with another model step."""

    messages: tuple[ChatMessage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused:
    """The turn waits for a person; the host will resume it through `TurnResumer`."""

    notice: str
    """What the user sees in the reply meanwhile, e.g. "Waiting for approval to run http_request…"."""


ToolOutcome = ToolResults | Paused


class ToolHost(Protocol):
    def specs(self, ref: ConversationRef) -> Sequence[ToolSpec]:
        """Tools the model may call in this conversation."""

    def status_text(self, calls: Sequence[ToolCall]) -> str:
        """A short status shown while tools run, e.g. "Searching the knowledge base…"."""

    async def handle_calls(
        self, turn: TurnContext, calls: Sequence[ToolCall], delivery: Delivery
    ) -> ToolOutcome: ...

    async def on_click(self, click: ActionClick) -> Decision:
        """An Approve/Deny click (already deduped): decided now; what the clicker sees, and the
        slow part (running the tool, resuming the turn) to queue."""

    async def on_command(
        self, command: Command, action: str, approval_id: str, delivery: Delivery
    ) -> None:
        """Typed `approve <id>` / `deny <id>` (for platforms and the console without buttons)."""


class TurnResumer(Protocol):
    async def resume(
        self,
        ref: ConversationRef,
        author: Author,
        messages: Sequence[ChatMessage],
        *,
        turn_id: str,
        step: int,
    ) -> None:
        """Continue a paused turn from `messages` (ending with the tool results), in order with
        the conversation's other work, answering in the same thread."""
