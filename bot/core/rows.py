"""The reply's row in storage, kept in step with what the user sees.

The row is stored as `streaming` when the turn starts (no platform message yet: the first post
waits for text), saved every `SAVE_EVERY_S` while the answer streams (text, and the platform id
of its first message once posted, so a crash keeps most of it and a restart can finalize the
message), and ends `final` with provider, model, tokens and latency, or `failed` with the error.
(The usage records, one per LLM call, are written by `bot.usage.meter`, not here.)
Each save that fails is logged; the answer on the platform never waits for storage. Every text
is redacted before it is stored (`bot.redaction`; the stable part only while it streams).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot import metrics
from bot.clock import Clock
from bot.delivery import StreamingReply
from bot.logs import get_logger, scrub
from bot.messages import Citation
from bot.ports import ConversationStore, MessageStatus
from bot.redaction import NO_REDACTION, Redactor
from bot.refs import Author, ConversationRef

log = get_logger(__name__)
SAVE_EVERY_S = 2.0
"""How often a streaming reply's text is written to its row."""


@dataclass(slots=True)
class Progress:
    """What one turn has produced so far, across model steps."""

    row: int
    started: float
    """Clock time the turn began (latency, the turn's time cap)."""
    saved_at: float = 0.0
    texts: list[str] = field(default_factory=list)
    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    finish: str = "stop"
    message_id: str = ""
    """The platform id of the reply's first message, once saved."""

    @property
    def shown(self) -> str:
        return "\n\n".join(t for t in (s.strip() for s in self.texts) if t)


class ReplyRows:
    def __init__(
        self, store: ConversationStore, clock: Clock, redactor: Redactor = NO_REDACTION
    ) -> None:
        self._store = store
        self._clock = clock
        self._redactor = redactor

    async def open(self, ref: ConversationRef) -> Progress:
        """The reply's row, `streaming` (a resumed turn: its question is stored already)."""
        started = self._clock.now()
        row = await self._store.add_message(
            ref, role="assistant", text="", status=MessageStatus.STREAMING
        )
        return Progress(row=row, started=started, saved_at=started)

    async def open_with_question(
        self, ref: ConversationRef, question: str, author: Author
    ) -> Progress:
        """Store the question (redacted: a key pasted into it never rests in the database) and
        the reply's `streaming` row in one write."""
        started = self._clock.now()
        _, row = await self._store.add_question(
            ref, text=self._redactor.redact(question), author=author
        )
        return Progress(row=row, started=started, saved_at=started)

    async def maybe_save(self, progress: Progress, reply: StreamingReply) -> None:
        """Every SAVE_EVERY_S: the text so far and the first message's id."""
        now = self._clock.now()
        if now - progress.saved_at < SAVE_EVERY_S:
            return
        progress.saved_at = now
        try:
            await self._store.update_message(
                progress.row,
                text=self._redactor.streaming(progress.shown),
                platform_message_id=self._new_id(progress, reply),
            )
        except Exception:
            log.warning("could not save the streaming reply", exc_info=True)

    def _new_id(self, progress: Progress, reply: StreamingReply) -> str | None:
        if progress.message_id or not reply.handles:
            return None
        progress.message_id = reply.handles[0].message_id
        return progress.message_id or None

    async def final(
        self,
        ref: ConversationRef,
        progress: Progress,
        reply: StreamingReply,
        text: str,
        citations: Sequence[Citation] = (),
        *,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        elapsed = self._clock.now() - progress.started
        self._observe(ref, progress, reply, elapsed, provider or progress.provider, model)
        provider = provider or progress.provider or None
        model = model or progress.model or None
        await self._store.update_message(
            progress.row,
            text=self._redactor.redact(text),
            status=MessageStatus.FINAL,
            platform_message_id=self._new_id(progress, reply),
            provider=provider,
            model=model,
            input_tokens=progress.input_tokens,
            output_tokens=progress.output_tokens,
            latency_ms=int(elapsed * 1000),
            citations=citations,
        )

    def _observe(
        self,
        ref: ConversationRef,
        progress: Progress,
        reply: StreamingReply,
        elapsed: float,
        provider: str,
        model: str | None,
    ) -> None:
        """The turn's metrics, and its one INFO line."""
        platform = ref.platform
        metrics.TURN_SECONDS.labels(platform).observe(elapsed)
        first_text = (
            reply.first_text_at - progress.started if reply.first_text_at is not None else None
        )
        if first_text is not None:
            metrics.FIRST_TEXT_SECONDS.labels(platform).observe(first_text)
        metrics.REPLY_OPERATIONS.labels(platform, "post").observe(reply.posts)
        metrics.REPLY_OPERATIONS.labels(platform, "edit").observe(reply.edits)
        log.info(
            "turn answered",
            platform=platform,
            conversation=ref.memory_key,
            provider=provider or "",
            model=model or progress.model,
            input_tokens=progress.input_tokens,
            output_tokens=progress.output_tokens,
            first_text_s=None if first_text is None else round(first_text, 3),
            total_s=round(elapsed, 3),
            posts=reply.posts,
            edits=reply.edits,
        )

    async def failed(self, progress: Progress, reply: StreamingReply, error: str) -> None:
        try:
            await self._store.update_message(
                progress.row,
                text=self._redactor.redact(progress.shown),
                status=MessageStatus.FAILED,
                platform_message_id=self._new_id(progress, reply),
                error=self._redactor.redact(scrub(error)),  # an SDK's error may echo a key
                provider=progress.provider or None,
                model=progress.model or None,
            )
        except Exception:
            log.exception("could not mark the reply failed")
