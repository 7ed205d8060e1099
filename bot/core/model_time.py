"""The model time one turn may spend: LLM_TURN_DEADLINE_S, drawn down by every model call.

A turn can call the model several times: a query rewrite before retrieval, then one step per
round of tool calls. Each call is given what is left (`LLMRequest.deadline_s`; the router ends
the call by then, see `bot.llm.router`) and what it took is subtracted. Time spent running
tools is not model time (tools have their own timeouts, and TOOL_TURN_TIMEOUT_S caps a tool
turn as a whole), so after a tool runs the next step gets the remaining budget.

A turn resumed after an approval starts a fresh budget: the resumed answer is a new message a
person is now waiting for (after a wait of minutes or hours for the approver), and the time
the model spent before the pause was already answered by the paused reply.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.clock import Clock


class ModelTime:
    def __init__(self, clock: Clock, total_s: float) -> None:
        self._clock = clock
        self.total_s = total_s
        self.used_s = 0.0

    @property
    def left_s(self) -> float:
        return max(0.0, self.total_s - self.used_s)

    @property
    def spent(self) -> bool:
        """Nothing left for another model call."""
        return self.left_s <= 0.0

    @contextmanager
    def call(self) -> Iterator[float]:
        """Time one model call; yields the seconds it may take."""
        started = self._clock.now()
        try:
            yield self.left_s
        finally:
            self.used_s += self._clock.now() - started
