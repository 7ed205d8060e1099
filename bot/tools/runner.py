"""`CallRunner`: runs checked tool calls, each under its timeout and its turn's time cap.

A turn's time cap counts from the runner's first call in that turn (`remaining`), so the time a
turn spends waiting for a person's approval does not count; `forget` drops a turn's deadline once
it resumes. `run_approved` runs an approved call exactly as it was stored, after checking it
again (the tool or its allowlist may have changed while it waited).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog

from bot.llm.types import ChatMessage, ToolCall
from bot.refs import Author, ConversationRef
from bot.tools.approvals import ApprovalRequest, ApprovalStore, PausedTurn
from bot.tools.redact import args_hash
from bot.tools.registry import CheckedCall, ToolContext, ToolRegistry
from bot.tools.results import error_message, result_message
from bot.tools.wallclock import WallClock

log = structlog.get_logger(__name__)
MAX_DEADLINES = 1000
"""Turns' deadlines kept before expired ones are pruned (turns that never paused are never
forgotten explicitly)."""


class CallRunner:
    def __init__(
        self,
        *,
        registry: ToolRegistry,
        store: ApprovalStore,
        wall: WallClock,
        turn_timeout_s: float,
    ) -> None:
        self.registry = registry
        self._store = store
        self._wall = wall
        self._turn_timeout_s = turn_timeout_s
        self._deadlines: dict[str, float] = {}

    def context(
        self, ref: ConversationRef, author: Author, call_id: str, turn_id: str
    ) -> ToolContext:
        return ToolContext(
            ref=ref, author=author, call_id=call_id, turn_id=turn_id, now=self._wall.now()
        )

    def remaining(self, turn_id: str) -> float:
        """Seconds left of the turn's time cap, counted from the first call in the turn."""
        now = self._wall.clock.now()
        if len(self._deadlines) > MAX_DEADLINES:
            self._deadlines = {k: v for k, v in self._deadlines.items() if v > now}
        deadline = self._deadlines.setdefault(turn_id, now + self._turn_timeout_s)
        return deadline - now

    def forget(self, turn_id: str) -> None:
        """The time cap counts tool time, not time waiting: a resumed turn starts afresh."""
        self._deadlines.pop(turn_id, None)

    async def execute(
        self, checked: CheckedCall, ctx: ToolContext, remaining: float | None
    ) -> tuple[ChatMessage, str]:
        """Run one call; (its tool message, a short audit result)."""
        call, tool = checked.call, checked.tool
        timeout = tool.timeout_s if remaining is None else min(tool.timeout_s, remaining)
        if timeout <= 0:
            return error_message(call, "the turn's time limit was reached; not run."), (
                "not run: turn time"
            )
        try:
            async with asyncio.timeout(timeout):
                output = await tool.run(call.arguments, ctx)
        except TimeoutError:
            return error_message(call, f"timed out after {timeout:g} s."), "error: timeout"
        except Exception as exc:
            log.info("tool failed", tool=tool.name, error=repr(exc))
            failure = error_message(call, f"failed: {exc or type(exc).__name__}")
            return failure, f"error: {exc!r}"[:500]
        return result_message(call, output, tool.max_output_chars), f"ok ({len(output)} chars)"

    async def run_approved(self, req: ApprovalRequest) -> tuple[str, str]:
        """Run the approved call exactly as stored; (tool message content, audit result)."""
        turn = await self._store.paused_turn(req.turn_id)
        call = find_call(turn, req.tool_call_id) if turn else None
        if turn is None or call is None or args_hash(call.arguments) != req.args_hash:
            return (
                f"Error from tool {req.tool}: the stored call could not be found; not run.",
                "error: stored call missing",
            )
        checked = self.registry.check(call)
        if isinstance(checked, ChatMessage):
            return checked.content, "not run: " + checked.content
        ctx = self.context(turn.ref, turn.author, call.id, turn.turn_id)
        message, result = await self.execute(checked, ctx, None)
        return message.content, result


def find_call(turn: PausedTurn, call_id: str) -> ToolCall | None:
    calls: Iterable[ToolCall] = turn.messages[-1].tool_calls if turn.messages else ()
    return next((c for c in calls if c.id == call_id), None)
