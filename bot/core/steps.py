"""Model steps of one turn: stream text into the reply; hand tool calls to the ToolHost.

Each step streams the model's answer into the reply (latest text wins there). When the model
asks for tools, the reply shows the host's status ("Searching the knowledge base…", cleared when
text comes again) and the host either returns results (the next step runs) or pauses the turn
for a person's approval (`Paused`: the turn ends with the host's notice and resumes later). At
most `tool_max_steps` steps and `tool_turn_timeout_s` seconds per turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import Clock
from bot.core.rows import Progress, ReplyRows
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
    ) -> None:
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
    ) -> str | None:
        """Run model steps; return a notice if the turn paused, None when the answer is complete."""
        host = self.tool_host
        tools = host.specs(ref) if host else ()
        step = first_step
        while True:
            calls = await self._stream_step(reply, messages, tools, progress)
            if not calls or host is None:
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
    ) -> list[ToolCall]:
        request = LLMRequest(
            messages=tuple(messages), tools=tuple(tools), max_output_tokens=self._max_output
        )
        progress.texts.append("")
        calls: list[ToolCall] = []
        async for event in self._model.stream(request):
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
        return calls
