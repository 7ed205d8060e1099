"""One answer, from a user's question to a final message.

How a turn runs (inside its conversation's queue, so turns of one conversation never overlap):

1. Admit the question by the quotas (`bot.core.quotas`; over a limit, the asker is told
   privately when to try again). Reject empty or over-long text (a clear reply; the too-long
   message is still stored, marked failed, so nothing is lost). Seed memory from an existing
   thread the first time the bot is summoned into it.
2. Open the reply (the delivery engine: its first post waits briefly for the first text) while
   recalling memory (nothing to read when the question starts its own thread) and storing the
   question together with the reply's `streaming` row, in one write (`bot.core.rows`): the
   user's message is durable before any model is called.
3. Compose the prompt (`bot.core.compose`: standalone query, retrieval, system prompt, history).
4. Model steps (`bot.core.steps`), within the turn's model time (`bot.core.model_time`,
   LLM_TURN_DEADLINE_S over every model call of the turn; a resumed turn starts afresh):
   stream text into the reply; tool calls go to the ToolHost,
   which returns results or pauses the turn for a person's approval (the reply is finalized with
   a notice; the host resumes the turn later via `resume`).
5. Finalize: citation markers that point nowhere are removed, citations attached, the reply row
   marked final; then memory may fold into the summary.

Every model call of the turn (answer steps, query rewrite, summary) is billed to its asker and
conversation (`bot.usage.meter.attributed`).

Every path ends in a final message: the answer, or a clear error saying what to do.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot import metrics
from bot.adapter import ThreadReader
from bot.clock import Clock
from bot.core.compose import Composer, Prompt
from bot.core.memory import EMPTY_RECALL, Memory, Recall
from bot.core.model_time import ModelTime
from bot.core.prompt import THREAD_ROLE
from bot.core.quotas import Quotas, Refusal
from bot.core.rows import Progress, ReplyRows
from bot.core.steps import ModelSteps
from bot.core.toolhost import ToolHost
from bot.delivery import Delivery, StreamingReply
from bot.errors import ProviderError
from bot.events import Origin
from bot.grounding import answer_without_llm, number_passages, resolve_citations
from bot.llm.types import ChatMessage, ChatModel
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.ports import ConversationStore, MessageStatus, Retriever
from bot.redaction import Redactor
from bot.refs import Author, ConversationRef
from bot.security.text import clean_question, is_data_error
from bot.settings import Settings
from bot.usage.meter import attributed

log = get_logger(__name__)

Compose = Callable[[ModelTime], Awaitable[Prompt]]

FINISH_NOTES = {
    "length": "\n\n_(The answer was cut short: it reached the length limit.)_",
    "content_filter": "\n\n_(The model stopped: its content filter withheld the rest of this answer.)_",
    "deadline": "\n\n_(The answer was cut short: the model took longer than the {limit:.0f} s one "
    "answer may take. Ask again, perhaps more narrowly; an admin can raise LLM_TURN_DEADLINE_S.)_",
}
STORAGE_FAILURE = (
    "Sorry, I couldn't save your message: my database is unavailable. Please try again in a minute."
)
DATA_FAILURE = (
    "Sorry, I couldn't save your message: it contains characters I can't store. Please send it "
    "again as plain text."
)
GENERIC_FAILURE = "Sorry, something went wrong while answering (reference {ref}). Please try again."
PLACEHOLDERS = frozenset({"…", "...", ""})
"""Texts a seeded thread may hold that are no answer (the bot's own placeholders)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """What the core answers, and where (the pipeline placed it)."""

    ref: ConversationRef
    """Where the answer goes; its memory key is the conversation's."""
    author: Author
    text: str
    origin: Origin
    reply_to: str = ""
    """The message the answer's first post references (placement REPLY). Thread seeding reads
    the thread before `origin.message_id`, the message that asked."""


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
        redactor: Redactor | None = None,
        quotas: Quotas | None = None,
    ) -> None:
        self._settings = settings
        self._quotas = quotas
        self.redactor = redactor or Redactor.create(canary="")
        self._store = store
        self._memory = memory
        self._model = chat_model
        self._clock = clock
        self._rows = ReplyRows(store, clock, self.redactor)
        self._composer = Composer(
            memory=memory,
            model=chat_model,
            retriever=retriever,
            general_knowledge=settings.answer_from_general_knowledge,
            canary=self.redactor.canary,
            tools=tool_host is not None,
        )
        self._steps = ModelSteps(
            model=chat_model,
            rows=self._rows,
            clock=clock,
            max_output_tokens=memory.budget.output,
            max_steps=settings.tool_max_steps,
            turn_timeout_s=settings.tool_turn_timeout_s,
            tool_host=tool_host,
            slow_notice_s=settings.llm_slow_notice_s,
        )
        self.tool_host = tool_host

    # --- entry points -----------------------------------------------------------------------
    async def answer(
        self, question: Question, delivery: Delivery, thread_reader: ThreadReader | None = None
    ) -> None:
        if self._quotas is None:
            await self._answer(question, delivery, thread_reader)
            return
        admission = await self._quotas.admit(question.ref, question.author)
        if isinstance(admission, Refusal):
            await delivery.tell(question, admission.text)
            return
        try:
            await self._answer(question, delivery, thread_reader)
        finally:
            admission.release()

    async def _answer(
        self, question: Question, delivery: Delivery, thread_reader: ThreadReader | None
    ) -> None:
        ref, text = question.ref, question.text.strip()
        reply = delivery.reply(ref, origin=question.origin, reply_to=question.reply_to)
        if len(text) > self._settings.max_message_chars:
            await self._reject_too_long(question, reply)
            return
        reply.start()  # typing indicator now; the first post follows the first text
        try:
            # add_message creates the conversation row; only seeding needs to know if it is new.
            # A thread the question itself starts (placed under it) has nothing to read.
            if (
                thread_reader is not None
                and ref.thread_id
                and ref.thread_id != question.origin.message_id
                and await self._store.ensure_conversation(ref)
            ):
                await self._seed_from_thread(ref, thread_reader, question)
            # A question that starts its own thread has no memory to recall (no reads).
            starts_thread = bool(ref.thread_id) and ref.thread_id == question.origin.message_id
            recall = EMPTY_RECALL if starts_thread else await self._memory.recall(ref.memory_key)
            # The question and the reply's row in one write; the question is stored redacted,
            # while this turn's prompt still has the text as asked.
            progress = await self._rows.open_with_question(ref, text, question.author)
        except Exception as exc:
            if is_data_error(exc):  # the text, not the database: say so, don't claim an outage
                log.warning("question refused by storage", error=type(exc).__name__)
                await reply.fail(DATA_FAILURE)
                return
            log.exception("could not store the question", memory_key=ref.memory_key)
            await reply.fail(STORAGE_FAILURE)
            return

        async def compose(model_time: ModelTime) -> Prompt:
            return await self._composer.first_step(ref, question.author, text, recall, model_time)

        async with attributed(ref, question.author):  # its model calls are billed to the asker
            await self._run(
                ref,
                delivery,
                reply,
                compose,
                author=question.author,
                question=text,
                recall=recall,
                progress=progress,
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
        reply = delivery.reply(ref)
        reply.start()

        async def compose(model_time: ModelTime) -> Prompt:
            return Prompt(messages=list(messages), passages=())

        async with attributed(ref, author):
            await self._run(
                ref, delivery, reply, compose, author=author, turn_id=turn_id, first_step=step + 1
            )

    # --- the turn ---------------------------------------------------------------------------
    async def _run(
        self,
        ref: ConversationRef,
        delivery: Delivery,
        reply: StreamingReply,
        compose: Compose,
        *,
        author: Author,
        question: str = "",
        recall: Recall | None = None,
        turn_id: str | None = None,
        first_step: int = 1,
        progress: Progress | None = None,
    ) -> None:
        """`progress`: the reply's row, when it was stored with the question."""
        turn_id = turn_id or uuid.uuid4().hex[:16]
        if progress is None:
            try:
                progress = await self._rows.open(ref)
            except Exception:
                log.exception("could not store the reply row", memory_key=ref.memory_key)
                await reply.fail(STORAGE_FAILURE)
                return
        outcome = "answered"
        try:
            if not self._model.available:
                await self._answer_without_model(ref, reply, progress, question)
                return
            model_time = ModelTime(self._clock, self._settings.llm_turn_deadline_s)
            prompt = await compose(model_time)
            notice = await self._steps.run(
                ref,
                author,
                delivery,
                reply,
                prompt.messages,
                progress,
                turn_id,
                first_step,
                model_time,
            )
            if notice is not None:  # paused for approval
                outcome = "paused"
                done = f"{progress.shown}\n\n_{notice}_" if progress.shown else f"_{notice}_"
                await reply.finish(OutgoingMessage.text(done))
                await self._rows.final(ref, progress, reply, done)
                return
            note = FINISH_NOTES.get(progress.finish, "")
            answer = progress.shown + note.format(limit=self._settings.llm_turn_deadline_s)
            clean, citations = resolve_citations(answer, prompt.passages)
            if not clean.strip():
                clean = "_(The model returned an empty answer. Please rephrase the question.)_"
            await reply.finish(OutgoingMessage(text_markdown=clean, citations=citations))
            await self._rows.final(ref, progress, reply, clean, citations)
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

    async def _answer_without_model(
        self, ref: ConversationRef, reply: StreamingReply, progress: Progress, question: str
    ) -> None:
        passages = await self._composer.retrieve(ref, question) if question else []
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
        await self._rows.final(
            ref, progress, reply, clean, citations, provider="none", model="knowledge-only"
        )

    async def _fail(
        self, reply: StreamingReply, progress: Progress, message: str, *, error: str | None = None
    ) -> None:
        try:
            await reply.fail(message)
        except Exception:
            log.exception("could not deliver the failure message")
        await self._rows.failed(progress, reply, error or message)

    async def _reject_too_long(self, question: Question, reply: StreamingReply) -> None:
        limit = self._settings.max_message_chars
        ref = question.ref
        await self._store.ensure_conversation(ref)
        row = await self._store.add_message(
            ref,
            role="user",
            text=self.redactor.redact(question.text),
            author=question.author,
            status=MessageStatus.FAILED,
        )
        await self._store.update_message(row, error="message too long")
        await reply.finish(
            OutgoingMessage.text(
                f"That message is too long: {len(question.text):,} characters, and the limit is "
                f"{limit:,}. Please shorten it, or split it into several messages."
            )
        )

    async def _seed_from_thread(
        self, ref: ConversationRef, reader: ThreadReader, question: Question
    ) -> None:
        try:
            earlier = await reader.read_thread(ref, before=question.origin.message_id, limit=50)
        except Exception as exc:
            log.warning("could not read the thread to seed memory", error=str(exc))
            return
        for message in earlier:
            text = clean_question(message.text).strip()
            if text in PLACEHOLDERS or text == question.text.strip():
                continue
            # Quoted thread context with its author, never one of the asker's turns.
            author = Author(id="", display_name="Parley") if message.from_bot else message.author
            stored = self.redactor.redact(text)
            await self._store.add_message(ref, role=THREAD_ROLE, text=stored, author=author)
