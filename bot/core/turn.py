"""One answer, from a user's message to a final edit.

How a turn runs (inside its conversation's queue, so turns of one conversation never overlap):

1. Reject empty or over-long text (a clear reply; the too-long message is still stored, marked
   failed, so nothing is lost). Seed memory from an existing thread the first time the bot is
   summoned into it.
2. Post the placeholder at once (the delivery engine) while recalling memory and storing the new
   message: the user's message is durable before any model is called. Store the reply row as
   `streaming`.
3. Retrieve knowledge for the (standalone-rewritten) question and build the prompt.
4. Model steps: stream text into the reply; when the model asks for tools, hand the calls to the
   ToolHost, which either returns results (next step) or pauses the turn for a person's approval
   (the reply is finalized with a notice; the host resumes the turn later via `resume`). At most
   `tool_max_steps` steps and `tool_turn_timeout_s` seconds per turn.
5. Finalize: citation markers that point nowhere are removed, citations attached, the reply row is
   marked final with provider, model, tokens and latency; then memory may fold into the summary.

Every path ends in a final edit: the answer, or a clear error saying what to do.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot import metrics
from bot.adapter import ThreadReader
from bot.clock import Clock
from bot.core.completion import complete
from bot.core.memory import Memory, Recall
from bot.core.prompt import (
    KNOWLEDGE_DOWN,
    NOTHING_FOUND,
    NOTHING_FOUND_GENERAL,
    history_messages,
    system_message,
)
from bot.core.toolhost import Paused, ToolHost, TurnContext
from bot.delivery import Delivery, StreamingReply
from bot.errors import ProviderError
from bot.events import IncomingMessage
from bot.grounding import (
    NumberedPassage,
    answer_without_llm,
    build_context,
    estimate_tokens,
    number_passages,
    resolve_citations,
)
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
from bot.logs import get_logger
from bot.messages import Citation, OutgoingMessage
from bot.ports import ConversationStore, MessageStatus, Passage, Retriever, scopes_for
from bot.refs import Author, ConversationRef, MessageHandle
from bot.settings import Settings

log = get_logger(__name__)
OpenReply = tuple[StreamingReply, "asyncio.Task[MessageHandle]"]
"""A reply whose placeholder post is under way."""


def start_reply(delivery: Delivery, ref: ConversationRef) -> OpenReply:
    reply = delivery.reply(ref)
    return reply, asyncio.create_task(reply.start())


Compose = Callable[[], Awaitable[tuple[list[ChatMessage], tuple[NumberedPassage, ...]]]]

REFERRING_WORDS = frozenset(
    [
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "they",
        "them",
        "their",
        "he",
        "she",
        "him",
        "her",
        "there",
        "such",
        "same",
        "above",
    ]
)
FINISH_NOTES = {
    "length": "\n\n_(The answer was cut short: it reached the length limit.)_",
    "content_filter": "\n\n_(The model stopped: its content filter withheld the rest of this answer.)_",
}
STORAGE_FAILURE = (
    "Sorry, I couldn't save your message: my database is unavailable. Please try again in a minute."
)
PLACEHOLDER_HEAD_START_S = 0.05
SAVE_EVERY_S = 2.0
"""How often a streaming reply's text is written to its row, so a crash keeps most of it."""
GENERIC_FAILURE = "Sorry, something went wrong while answering (reference {ref}). Please try again."


@dataclass(slots=True)
class _Progress:
    """What one turn has produced so far, across model steps."""

    row: int
    """The reply's message row, saved every SAVE_EVERY_S while it streams."""
    started: float
    """Clock time the turn began (latency, the turn's time cap)."""
    saved_at: float = 0.0
    texts: list[str] = field(default_factory=list)
    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    finish: str = "stop"

    @property
    def shown(self) -> str:
        return "\n\n".join(t for t in (s.strip() for s in self.texts) if t)


class TurnRunner:
    def __init__(
        self,
        *,
        settings: Settings,
        store: ConversationStore,
        memory: Memory,
        chat_model: ChatModel,
        clock: Clock,
        retriever: Retriever | None = None,
        tool_host: ToolHost | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._memory = memory
        self._model = chat_model
        self._clock = clock
        self._retriever = retriever
        self.tool_host = tool_host

    # --- entry points -----------------------------------------------------------------------
    async def answer(
        self,
        event: IncomingMessage,
        delivery: Delivery,
        thread_reader: ThreadReader | None = None,
        *,
        opened: OpenReply | None = None,
    ) -> None:
        """Answer `event`. `opened` is a placeholder the pipeline already posted (when the
        conversation was idle); otherwise the placeholder is posted here."""
        ref, text = event.ref, event.text.strip()
        if len(text) > self._settings.max_message_chars:
            await self._reject_too_long(event, delivery, opened)
            return
        # The user sees at once that the bot is answering; the question is stored before any
        # model is called. The placeholder gets a short head start so that, in a burst of
        # events, placeholders are not queued behind every turn's database statements.
        reply, placeholder = opened or start_reply(delivery, ref)
        await asyncio.wait({placeholder}, timeout=PLACEHOLDER_HEAD_START_S)
        try:
            # add_message creates the conversation row; only seeding needs to know if it is new.
            if (
                thread_reader is not None
                and ref.thread_id
                and await self._store.ensure_conversation(ref)
            ):
                await self._seed_from_thread(ref, thread_reader, skip_text=text)
            recall = await self._memory.recall(ref.memory_key)
            await self._store.add_message(ref, role="user", text=text, author=event.author)
        except Exception:
            log.exception("could not store the question", memory_key=ref.memory_key)
            await asyncio.gather(placeholder, return_exceptions=True)
            await reply.fail(STORAGE_FAILURE)
            return

        async def compose() -> tuple[list[ChatMessage], tuple[NumberedPassage, ...]]:
            return await self._first_step(ref, event.author, text, recall)

        await self._run(
            ref,
            delivery,
            reply,
            placeholder,
            compose,
            question=text,
            author=event.author,
            recall=recall,
        )

    async def resume(
        self,
        ref: ConversationRef,
        author: Author,
        messages: Sequence[ChatMessage],
        delivery: Delivery,
        *,
        turn_id: str,
        step: int,
    ) -> None:
        """Continue a turn paused for approval, in a new reply in the same place."""
        reply, placeholder = start_reply(delivery, ref)

        async def compose() -> tuple[list[ChatMessage], tuple[NumberedPassage, ...]]:
            return list(messages), ()

        await self._run(
            ref,
            delivery,
            reply,
            placeholder,
            compose,
            author=author,
            turn_id=turn_id,
            first_step=step + 1,
        )

    # --- the turn ---------------------------------------------------------------------------
    async def _run(
        self,
        ref: ConversationRef,
        delivery: Delivery,
        reply: StreamingReply,
        placeholder: asyncio.Task[MessageHandle],
        compose: Compose,
        *,
        author: Author,
        question: str = "",
        recall: Recall | None = None,
        turn_id: str | None = None,
        first_step: int = 1,
    ) -> None:
        started = self._clock.now()
        turn_id = turn_id or uuid.uuid4().hex[:16]
        try:
            handle = await placeholder
        except Exception:
            log.exception(
                "could not post the placeholder; the question is stored", memory_key=ref.memory_key
            )
            return
        try:
            row = await self._store.add_message(
                ref,
                role="assistant",
                text="",
                status=MessageStatus.STREAMING,
                platform_message_id=handle.message_id,
            )
        except Exception:
            log.exception("could not store the reply row", memory_key=ref.memory_key)
            await reply.fail(STORAGE_FAILURE)
            return
        progress = _Progress(row=row, started=started, saved_at=started)
        outcome = "answered"
        try:
            if not self._model.available:
                await self._answer_without_model(ref, reply, progress, question)
                return
            messages, passages = await compose()
            done = await self._steps(
                ref, author, delivery, reply, messages, progress, turn_id, first_step
            )
            if done is not None:  # paused for approval
                outcome = "paused"
                await reply.finish(OutgoingMessage.text(done))
                await self._finalize_row(ref, done, progress, ())
                return
            answer = progress.shown + FINISH_NOTES.get(progress.finish, "")
            clean, citations = resolve_citations(answer, passages)
            if not clean.strip():
                clean = "_(The model returned an empty answer. Please rephrase the question.)_"
            await reply.finish(OutgoingMessage(text_markdown=clean, citations=citations))
            await self._finalize_row(ref, clean, progress, citations)
        except ProviderError as exc:
            outcome = "failed"
            await self._fail(reply, progress, str(exc))
        except asyncio.CancelledError:
            outcome = "failed"
            await asyncio.shield(
                self._fail(reply, progress, "Parley is restarting; please ask again in a moment.")
            )
            raise
        except Exception as exc:
            outcome = "failed"
            log.exception("turn failed", memory_key=ref.memory_key, turn_id=turn_id)
            await self._fail(reply, progress, GENERIC_FAILURE.format(ref=turn_id), error=repr(exc))
        else:
            added = question + progress.shown
            await self._memory.fold_if_needed(ref.memory_key, known=recall, added=added)
        finally:
            metrics.TURNS.labels(ref.platform, outcome).inc()

    async def _steps(
        self,
        ref: ConversationRef,
        author: Author,
        delivery: Delivery,
        reply: StreamingReply,
        messages: list[ChatMessage],
        progress: _Progress,
        turn_id: str,
        first_step: int,
    ) -> str | None:
        """Run model steps; return a notice if the turn paused, None when the answer is complete."""
        tools = self.tool_host.specs(ref) if self.tool_host else ()
        max_steps = self._settings.tool_max_steps
        step = first_step
        while True:
            calls = await self._stream_step(reply, messages, tools, progress)
            if not calls:
                return None
            if self.tool_host is None:
                return None
            if (
                step > max_steps  # steps 1..max_steps may use tools; the next is refused
                or self._clock.now() - progress.started > self._settings.tool_turn_timeout_s
            ):
                progress.texts.append(
                    f"_(Stopped: this turn reached its limit of {max_steps} tool steps or "
                    f"{self._settings.tool_turn_timeout_s:.0f} s.)_"
                )
                return None
            messages.append(
                ChatMessage(role="assistant", content=progress.texts[-1], tool_calls=tuple(calls))
            )
            reply.set_text(_with_status(progress.shown, self.tool_host.status_text(calls)))
            context = TurnContext(
                ref=ref, author=author, messages=tuple(messages), step=step, turn_id=turn_id
            )
            outcome = await self.tool_host.handle_calls(context, calls, delivery)
            if isinstance(outcome, Paused):
                return _with_status(progress.shown, outcome.notice)
            messages.extend(outcome.messages)
            step += 1

    async def _stream_step(
        self,
        reply: StreamingReply,
        messages: list[ChatMessage],
        tools: Sequence[ToolSpec],
        progress: _Progress,
    ) -> list[ToolCall]:
        request = LLMRequest(
            messages=tuple(messages),
            tools=tuple(tools),
            max_output_tokens=self._memory.budget.output,
        )
        progress.texts.append("")
        calls: list[ToolCall] = []
        async for event in self._model.stream(request):
            if isinstance(event, TextDelta):
                progress.texts[-1] += event.text
                reply.set_text(progress.shown)
                if self._clock.now() - progress.saved_at >= SAVE_EVERY_S:
                    progress.saved_at = self._clock.now()
                    await self._store.update_message(progress.row, text=progress.shown)
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

    async def _first_step(
        self, ref: ConversationRef, author: Author, text: str, recall: Recall
    ) -> tuple[list[ChatMessage], tuple[NumberedPassage, ...]]:
        passages: list[Passage] | None = []
        if self._retriever is not None:
            query = await self._standalone_query(text, recall)
            passages = await self._retrieve(ref, query)
        context, numbered = build_context(passages or [], self._memory.budget.knowledge)
        note = ""
        if passages is None:
            note = KNOWLEDGE_DOWN
        elif self._retriever is not None and not numbered:
            note = (
                NOTHING_FOUND_GENERAL
                if self._settings.answer_from_general_knowledge
                else NOTHING_FOUND
            )
        name = author.display_name
        messages = [
            system_message(ref, recall, context, note=note),
            *history_messages(recall),
            ChatMessage(role="user", content=f"{name}: {text}" if name else text),
        ]
        return messages, numbered

    # --- helpers ----------------------------------------------------------------------------
    async def _retrieve(self, ref: ConversationRef, query: str) -> list[Passage] | None:
        """Passages for `query`, or None when the knowledge base could not be searched (an
        outage degrades the answer, and the user is told; it does not kill the turn)."""
        assert self._retriever is not None
        try:
            return await self._retriever.retrieve(query, scopes=scopes_for(ref))
        except Exception as exc:
            log.warning("knowledge retrieval failed", error=str(exc))
            return None

    async def _standalone_query(self, text: str, recall: Recall) -> str:
        """Rewrite a follow-up that leans on earlier turns into a self-contained search query.

        Only short or referring messages are rewritten, so most turns cost no extra model call."""
        words = text.lower().replace("?", " ").split()
        if not recall.messages or (len(words) > 12 and not REFERRING_WORDS.intersection(words)):
            return text
        last = "\n".join(f"{m.role}: {m.text[:500]}" for m in recall.messages[-4:])
        request = LLMRequest(
            messages=(
                ChatMessage(
                    role="system",
                    content="Rewrite the user's last message as one self-contained search query, "
                    "resolving references to the earlier conversation. Reply with the query only.",
                ),
                ChatMessage(
                    role="user",
                    content=f"<conversation>\n{last}\n</conversation>\nLast message: {text}",
                ),
            ),
            max_output_tokens=80,
        )
        try:
            rewritten = await complete(self._model, request)
        except ProviderError:
            return text
        return rewritten if 0 < estimate_tokens(rewritten) < 200 else text

    async def _answer_without_model(
        self, ref: ConversationRef, reply: StreamingReply, progress: _Progress, question: str
    ) -> None:
        passages = await self._retrieve(ref, question) if self._retriever and question else []
        if passages is None:
            text = (
                "No language model is configured, and the knowledge base is unavailable right "
                "now, so I can't answer. Please try again in a minute, or ask an admin to check "
                "`python -m bot kb status`."
            )
            passages = []
        else:
            text = answer_without_llm(question, passages)
        clean, citations = resolve_citations(text, number_passages(passages))
        await reply.finish(OutgoingMessage(text_markdown=clean, citations=citations))
        await self._store.update_message(
            progress.row,
            text=clean,
            status=MessageStatus.FINAL,
            provider="none",
            model="knowledge-only",
            citations=citations,
        )

    async def _finalize_row(
        self,
        ref: ConversationRef,
        text: str,
        progress: _Progress,
        citations: Sequence[Citation],
    ) -> None:
        elapsed = self._clock.now() - progress.started
        metrics.TURN_SECONDS.labels(ref.platform).observe(elapsed)
        if progress.provider and (progress.input_tokens or progress.output_tokens):
            await self._store.record_usage(
                ref,
                provider=progress.provider,
                model=progress.model,
                input_tokens=progress.input_tokens,
                output_tokens=progress.output_tokens,
            )
        await self._store.update_message(
            progress.row,
            text=text,
            status=MessageStatus.FINAL,
            provider=progress.provider or None,
            model=progress.model or None,
            input_tokens=progress.input_tokens,
            output_tokens=progress.output_tokens,
            latency_ms=int(elapsed * 1000),
            citations=citations,
        )

    async def _fail(
        self,
        reply: StreamingReply,
        progress: _Progress,
        message: str,
        *,
        error: str | None = None,
    ) -> None:
        shown = progress.shown
        try:
            await reply.fail(message)
        except Exception:
            log.exception("could not deliver the failure message")
        try:
            await self._store.update_message(
                progress.row,
                text=shown,
                status=MessageStatus.FAILED,
                error=error or message,
                provider=progress.provider or None,
                model=progress.model or None,
            )
        except Exception:
            log.exception("could not mark the reply failed")

    async def _reject_too_long(
        self, event: IncomingMessage, delivery: Delivery, opened: OpenReply | None
    ) -> None:
        limit = self._settings.max_message_chars
        await self._store.ensure_conversation(event.ref)
        row = await self._store.add_message(
            event.ref,
            role="user",
            text=event.text,
            author=event.author,
            status=MessageStatus.FAILED,
        )
        await self._store.update_message(row, error="message too long")
        message = OutgoingMessage.text(
            f"That message is too long: {len(event.text):,} characters, and the limit is {limit:,}. "
            "Please shorten it, or split it into several messages."
        )
        if opened is None:
            await delivery.post(event.ref, message)
            return
        reply, placeholder = opened
        await asyncio.gather(placeholder, return_exceptions=True)
        await reply.finish(message)

    async def _seed_from_thread(
        self, ref: ConversationRef, reader: ThreadReader, *, skip_text: str
    ) -> None:
        try:
            earlier = await reader.read_thread(ref, limit=50)
        except Exception as exc:
            log.warning("could not read the thread to seed memory", error=str(exc))
            return
        for role, text in earlier:
            if text.strip() and text.strip() != skip_text:
                await self._store.add_message(ref, role=role, text=text)


def _with_status(text: str, status: str) -> str:
    return f"{text}\n\n_{status}_" if text else f"_{status}_"
