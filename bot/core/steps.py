"""Model steps of one turn: stream text into the reply; hand tool calls to the ToolHost.

Each step streams the model's answer into the reply (latest text wins there). When the model
asks for tools, the reply shows the host's status ("Searching the knowledge base…", cleared when
text comes again) and the host either returns results (the next step runs) or pauses the turn
for a person's approval (`Paused`: the turn ends with the host's notice and resumes later). At
most `tool_max_steps` steps and `tool_turn_timeout_s` seconds per turn. While a step waits
longer than `slow_notice_s` for its first event, the reply's status says the model is slow.

Every step draws on the turn's model time (`bot.core.model_time`): it is given what is left,
and a step the router cut at that deadline (`Finish(reason="deadline")`) ends the turn with
what was shown, its tool calls unrun; so does a turn with no model time left for another step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.clock import Clock
from bot.core.model_time import ModelTime
from bot.core.rows import SAVE_EVERY_S, Progress, ReplyRows
from bot.core.toolhost import Paused, ToolHost, TurnContext
from bot.delivery import Delivery, StreamingReply
from bot.llm.types import (
    Answering,
    ChatMessage,
    ChatModel,
    Finish,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)
from bot.refs import Author, ConversationRef

SLOW_NOTICE = "Still working — the model is slow to answer…"


class ModelSteps:
    def __init__(
        self,
        *,
        model: ChatModel,
        rows: ReplyRows,
        clock: Clock,
        max_output_tokens: int,
        max_steps: int,
        turn_timeout_s: float,
        tool_host: ToolHost | None,
        slow_notice_s: float = 8.0,
    ) -> None:
        self._slow_s = slow_notice_s
        self._model = model
        self._rows = rows
        self._clock = clock
        self._max_output = max_output_tokens
        self._max_steps = max_steps
        self._timeout = turn_timeout_s
        self.tool_host = tool_host

    async def run(
        self,
        ref: ConversationRef,
        author: Author,
        delivery: Delivery,
        reply: StreamingReply,
        messages: list[ChatMessage],
        progress: Progress,
        turn_id: str,
        first_step: int,
        model_time: ModelTime,
    ) -> str | None:
        """Run model steps; return a notice if the turn paused, None when the answer is complete."""
        host = self.tool_host
        tools = host.specs(ref) if host else ()
        step = first_step
        while True:
            if model_time.spent:
                progress.finish = "deadline"
                return None
            with model_time.call() as left_s:
                calls = await self._stream_step(reply, messages, tools, progress, left_s)
            if not calls or host is None or progress.finish == "deadline":
                return None
            if (
                step > self._max_steps  # steps 1..max_steps may use tools; the next is refused
                or self._clock.now() - progress.started > self._timeout
            ):
                progress.texts.append(
                    f"_(Stopped: this turn reached its limit of {self._max_steps} tool steps or "
                    f"{self._timeout:.0f} s.)_"
                )
                return None
            messages.append(
                ChatMessage(role="assistant", content=progress.texts[-1], tool_calls=tuple(calls))
            )
            reply.set_status(host.status_text(calls))
            context = TurnContext(
                ref=ref, author=author, messages=tuple(messages), step=step, turn_id=turn_id
            )
            outcome = await host.handle_calls(context, calls, delivery)
            if isinstance(outcome, Paused):
                return outcome.notice
            messages.extend(outcome.messages)
            step += 1

    async def _stream_step(
        self,
        reply: StreamingReply,
        messages: list[ChatMessage],
        tools: Sequence[ToolSpec],
        progress: Progress,
        deadline_s: float,
    ) -> list[ToolCall]:
        request = LLMRequest(
            messages=tuple(messages),
            tools=tuple(tools),
            max_output_tokens=self._max_output,
            deadline_s=deadline_s,
        )
        progress.texts.append("")
        calls: list[ToolCall] = []
        slow = asyncio.ensure_future(self._say_slow(reply))
        saver = asyncio.ensure_future(self._keep_saving(progress, reply))
        try:
            await self._consume(reply, request, progress, calls, slow)
        finally:
            slow.cancel()
            saver.cancel()
        return calls

    async def _keep_saving(self, progress: Progress, reply: StreamingReply) -> None:
        """Save the row even while the model stalls, so a crash then can still be finalized
        (the first message's id reaches the row within SAVE_EVERY_S of being posted)."""
        while True:
            await self._clock.sleep(SAVE_EVERY_S)
            await self._rows.maybe_save(progress, reply)

    async def _say_slow(self, reply: StreamingReply) -> None:
        await self._clock.sleep(self._slow_s)
        reply.set_status(SLOW_NOTICE)

    async def _consume(
        self,
        reply: StreamingReply,
        request: LLMRequest,
        progress: Progress,
        calls: list[ToolCall],
        slow: asyncio.Future[None],
    ) -> None:
        async for event in self._model.stream(request):
            slow.cancel()
            if isinstance(event, TextDelta):
                if not progress.texts[-1]:
                    reply.set_status("")  # the answer goes on: the status line is done
                progress.texts[-1] += event.text
                reply.set_text(progress.shown)
                await self._rows.maybe_save(progress, reply)
            elif isinstance(event, ToolCallEvent):
                calls.append(event.call)
            elif isinstance(event, Usage):
                progress.input_tokens += event.input_tokens
                progress.output_tokens += event.output_tokens
            elif isinstance(event, Finish):
                progress.finish = event.reason
            elif isinstance(event, Answering):
                progress.provider, progress.model = event.provider, event.model
