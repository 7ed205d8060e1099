"""The small protocols the core needs from storage and knowledge; the concrete classes live in
`storage/` and `knowledge/` and are wired together only in the composition root (`bot.app`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.messages import Citation
from bot.refs import Author, ConversationRef


class MessageStatus(StrEnum):
    PENDING = "pending"
    STREAMING = "streaming"
    FINAL = "final"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    id: int
    role: str
    """"user", "assistant" or "system"."""
    text: str
    author_id: str = ""
    author_name: str = ""
    status: MessageStatus = MessageStatus.FINAL
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    text: str
    through_message_id: int
    """The newest message the summary covers; history after it is kept verbatim."""


class ConversationStore(Protocol):
    async def claim_event(self, event_id: str) -> bool:
        """Record `event_id` as processed. True the first time it is seen by any worker, ever;
        False for a repeat (a retried delivery, a second worker, a restart)."""

    async def ensure_conversation(self, ref: ConversationRef) -> bool:
        """Create the conversation row for `ref.memory_key` if absent; True if it was created."""

    async def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        author: Author | None = None,
        status: MessageStatus = MessageStatus.FINAL,
        platform_message_id: str | None = None,
    ) -> int:
        """Store a message and return its id."""

    async def add_question(
        self, ref: ConversationRef, *, text: str, author: Author
    ) -> tuple[int, int]:
        """Store a user's question and its reply's `streaming` row together, in one
        transaction; return (question id, reply id)."""

    async def update_message(
        self,
        message_id: int,
        *,
        text: str | None = None,
        status: MessageStatus | None = None,
        platform_message_id: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: int | None = None,
        citations: Sequence[Citation] | None = None,
        error: str | None = None,
    ) -> None: ...

    async def history(
        self, memory_key: str, *, after_id: int = 0, limit: int = 200
    ) -> list[StoredMessage]:
        """Messages with id > `after_id`, oldest first, excluding failed and pending ones."""

    async def summary(self, memory_key: str) -> Summary | None: ...

    async def backlog(
        self, memory_key: str, *, limit: int = 200
    ) -> tuple[Summary | None, list[StoredMessage]]:
        """The summary and the history after it (as `history`), read together."""

    async def save_summary(self, memory_key: str, summary: Summary) -> None: ...

    async def reset(self, memory_key: str) -> None:
        """Forget the conversation's messages and summary (usage records stay)."""

    async def record_usage(
        self,
        ref: ConversationRef,
        *,
        provider: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        user: Author | None = None,
        cost_usd: float | None = None,
        at: datetime | None = None,
    ) -> None:
        """Add a usage record (one LLM call: who asked, where, tokens, estimated cost; `at`
        defaults to now) and the conversation's running token totals."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Passage:
    """A retrieved knowledge-base chunk."""

    text: str
    title: str
    source: str
    section: str = ""
    score: float = 0.0
    chunk_id: str = ""


def scopes_for(ref: ConversationRef) -> tuple[str, ...]:
    """A conversation sees public documents plus those of its own workspace and channel."""
    workspace = f"{ref.platform}:{ref.workspace_id}"
    return ("public", workspace, f"{workspace}:{ref.channel_id}")


class Retriever(Protocol):
    async def retrieve(self, query: str, *, scopes: Sequence[str], limit: int = 8) -> list[Passage]:
        """Best passages for `query` visible to `scopes`, above the score threshold, best first."""


ProgressCallback = Callable[[dict[str, float]], None]


class KnowledgeAdmin(Protocol):
    """Chat- and CLI-driven knowledge administration."""

    async def reindex(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> str:
        """Reindex `paths` (or the configured ones); return a human-readable report."""

    async def status(self) -> str: ...

    async def search(
        self, query: str, *, scopes: Sequence[str] | None = None, limit: int = 5
    ) -> list[Passage]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AdminAction:
    """One line of the admin audit log: who did what, where, when, and how it ended."""

    platform: str
    workspace_id: str
    channel_id: str
    actor_id: str
    action: str
    """The command's words, e.g. "kb reindex"."""
    target: str = ""
    """What it acted on (paths, a source, a user), as typed."""
    result: str
    """"ok", "refused", or "failed: <reason>"."""
    at: datetime | None = None
    """Set by the log when recorded."""


class AuditLog(Protocol):
    async def record(self, action: AdminAction) -> None:
        """Append `action`, stamped with the current time."""

    async def entries(self, *, limit: int = 100) -> list[AdminAction]:
        """The newest `limit` entries, newest first."""


# --- knowledge administration from chat (bot.core.kb_admin, bot.core.kb_runs) -------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class ReindexSummary:
    """What one reindex did, file by file, for the message that ends it."""

    documents: int = 0
    """Files looked at."""
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    """(source, reason) for every file that could not be indexed."""
    flagged: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(source, injection patterns found) for files read in this run."""
    chunks: int = 0
    duration_s: float = 0.0
    cancelled: bool = False
    failure: str | None = None
    """Why the run stopped early (storage or embedding down, another reindex running)."""

    @property
    def outcome(self) -> str:
        """ "cancelled", "failed", "ok with errors" or "ok"."""
        if self.cancelled:
            return "cancelled"
        if self.failure:
            return "failed"
        return "ok with errors" if self.failed else "ok"


class KnowledgeRuns(Protocol):
    """What `kb reindex`, `kb cancel` and `kb remove` need beyond `KnowledgeAdmin`."""

    async def reindex_summary(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> ReindexSummary:
        """Reindex `paths` (or the configured ones); never raises for a failed run."""

    def cancel_reindex(self) -> None:
        """Stop this process's running reindex after the current document."""

    async def remove_source(self, root: str) -> int:
        """Take every document under `root` out of the index; how many there were."""

    async def document_counts(self, roots: Sequence[str]) -> dict[str, int]:
        """How many indexed documents lie under each of `roots`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseHolder:
    """Who runs the reindex that holds the lease, and how far it is."""

    run_id: str
    actor: str
    """Who started it: "slack:U123", "scheduled", "command line", "start-up"."""
    target: str
    """What it indexes, as asked ("" for every source)."""
    started_at: datetime
    progress: dict[str, float]
    """The latest progress callback values (documents, documents_total, chunks, errors, rate)."""
    cancel_requested: str = ""
    """Who asked it to stop ("" when nobody has)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LastReindex:
    """How the latest finished reindex ended (of any trigger)."""

    actor: str
    target: str
    finished_at: datetime
    outcome: str
    """ReindexSummary.outcome, or "stopped" when the process stopped mid-run."""
    headline: str
    """One line: the counts."""


class ReindexLease(Protocol):
    """One reindex at a time across every process sharing the database."""

    async def acquire(self, run_id: str, *, actor: str, target: str) -> LeaseHolder | None:
        """Take the lease for `run_id`: None when taken, else the live holder."""

    async def heartbeat(self, run_id: str, progress: dict[str, float]) -> str | None:
        """Renew and publish progress; who asked for a cancel ("" for nobody), or None when the
        lease is no longer this run's (it expired and another run took it)."""

    async def release(self, run_id: str, last: LastReindex) -> None:
        """Give the lease up and record how the run ended."""

    async def request_cancel(self, by: str) -> LeaseHolder | None:
        """Ask the live holder to stop; the holder as it was, or None when nothing runs."""

    async def holder(self) -> LeaseHolder | None:
        """The live holder, or None."""

    async def last(self) -> LastReindex | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeSource:
    """A folder, file or fetched URL the knowledge base indexes."""

    path: str
    """The local path that is indexed (a fetched URL's saved copy)."""
    source: str
    """What people call it: the URL, or the path."""
    kind: str
    """"configured" (KNOWLEDGE_PATHS), "path" or "url" (added with `kb add`)."""
    added_by: str = ""
    added_at: datetime | None = None
    last_indexed_at: datetime | None = None
    last_outcome: str = ""


class SourceRegistry(Protocol):
    async def sources(self) -> list[KnowledgeSource]:
        """Every source known to the database, by path."""

    async def add(self, source: KnowledgeSource) -> bool:
        """Record an added source; False when its path is already known."""

    async def remove(self, path: str) -> None: ...

    async def mark_indexed(self, paths: Sequence[str], *, outcome: str) -> None:
        """Stamp each path (recorded as "configured" when unknown) as indexed now."""
