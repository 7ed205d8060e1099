"""Button clicks: one router from `ActionClick.action_id` to the part of the core that owns it.

A handler decides at click time and returns a `Decision`: what the click shows at once (the
refreshed card, or a note only the clicker sees) and, separately, the slow part (running a tool,
resuming a turn) that the pipeline queues in the conversation. Approvals are one user
(`approve`, `deny`); an id nobody registered gets a clear private note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.events import ActionClick, ActionResult
from bot.messages import OutgoingMessage

Job = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    result: ActionResult
    then: Job | None = None
    """Work to queue in the click's conversation once the result is shown."""


ActionHandler = Callable[[ActionClick], Awaitable[Decision]]
UNKNOWN = "This button no longer does anything here. Ask me again if you still need it."


class ActionRouter:
    def __init__(self) -> None:
        self._handlers: dict[str, ActionHandler] = {}

    def register(self, action_id: str, handler: ActionHandler) -> None:
        self._handlers[action_id] = handler

    async def decide(self, click: ActionClick) -> Decision:
        handler = self._handlers.get(click.action_id)
        if handler is None:
            return Decision(result=ActionResult(private=OutgoingMessage.text(UNKNOWN)))
        return await handler(click)
