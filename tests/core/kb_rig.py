"""A knowledge-admin rig for the core: the real Commands, KnowledgeBase (Qdrant local mode, a
hashing embedder that a test can hold at a gate), SQL lease, sources and audit log, and the
memory adapter as the platform."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.clock import FakeClock
from bot.core.access import Access
from bot.core.commands import Commands
from bot.core.grammar import parse
from bot.core.kb_runs import ReindexRunner
from bot.core.kb_sources import SourcePolicy
from bot.delivery import Delivery
from bot.events import ActionClick, Command, Origin, OriginKind
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef
from bot.settings import load_settings
from knowledge import KnowledgeBase, open_knowledge_base
from knowledge.embedding import HashingEmbedder
from knowledge.embedding.base import Vector
from storage import SqlStore, open_store
from storage.audit import SqlAuditLog
from storage.kb_admin import SqlReindexLease, SqlSourceRegistry
from tests.fakes.memory_adapter import MemoryAdapter

ADMIN = Author(id="U_ADMIN", display_name="Ada")
GUEST = Author(id="U_GUEST", display_name="Gus")
REF = ConversationRef(platform="memory", workspace_id="T1", channel_id="C1")


class GatedEmbedder(HashingEmbedder):
    """Each embed call (one per document with batch_chunks=1) waits for a permit while `gate`
    is set, so a test can hold a reindex mid-run."""

    def __init__(self) -> None:
        super().__init__(256)
        self.gate: threading.Semaphore | None = None

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        gate = self.gate
        if gate is not None and not gate.acquire(timeout=20):
            raise TimeoutError("the test never opened the gate")
        return super().embed(texts)

    def hold(self) -> None:
        self.gate = threading.Semaphore(0)

    def let_through(self, documents: int) -> None:
        assert self.gate is not None
        for _ in range(documents):
            self.gate.release()

    def open(self) -> None:
        gate, self.gate = self.gate, None
        if gate is not None:
            for _ in range(100):
                gate.release()


def write_corpus(root: Path, n: int = 6) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"doc{i}.md").write_text(f"# Topic {i}\n\nFact number {i} about subject{i}.\n")
    return root


@dataclass
class Rig:
    commands: Commands
    runner: ReindexRunner
    adapter: MemoryAdapter
    delivery: Delivery
    kb: KnowledgeBase
    store: SqlStore
    audit: SqlAuditLog
    embedder: GatedEmbedder
    corpus: Path

    async def say(self, text: str, author: Author = ADMIN) -> None:
        invocation = parse(text, typed=False)
        assert invocation is not None
        command = Command(
            event_id=uuid.uuid4().hex,
            ref=REF,
            author=author,
            text=text,
            origin=Origin(kind=OriginKind.COMMAND),
        )
        await self.commands.handle(command, invocation, self.delivery)

    async def click_cancel(self, run_id: str, author: Author = ADMIN) -> str:
        assert self.commands.kb is not None
        click = ActionClick(
            event_id=uuid.uuid4().hex,
            ref=REF,
            author=author,
            action_id="cancel",
            value=run_id,
            origin=Origin(kind=OriginKind.ACTION, message_id="m"),
        )
        decision = await self.commands.kb.on_click(click)
        assert decision.result.private is not None
        return decision.result.private.text_markdown

    def posts(self) -> list[str]:
        """Ids of the messages posted in the conversation (not private notes)."""
        return [c.message_id for c in self.adapter.ok_calls("send")]

    def shown(self, message_id: str) -> OutgoingMessage:
        return self.adapter.messages[message_id]

    def edits(self, message_id: str) -> list[str]:
        return [c.text for c in self.adapter.history(message_id)]

    async def settle(self) -> None:
        await self.runner.idle()


async def until(condition: Callable[[], bool], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def open_rig(
    tmp_path: Path,
    database_url: str | None = None,
    *,
    corpus: Path | None = None,
    embedder: GatedEmbedder | None = None,
    allowed_hosts: tuple[str, ...] = ("127.0.0.1",),
) -> Rig:
    corpus = corpus or write_corpus(tmp_path / "corpus")
    settings = load_settings(
        data_dir=tmp_path / "data",
        embedding_model="hashing-256",
        knowledge_paths=(str(corpus),),
        **({"database_url": database_url} if database_url else {}),
    )
    embedder = embedder or GatedEmbedder()
    kb = await open_knowledge_base(settings, embedder=embedder, schedule=False, min_score=0.05)
    kb.config = replace(kb.config, batch_chunks=1)
    store = await open_store(settings.sqlalchemy_url)
    clock = FakeClock()
    sources = SqlSourceRegistry(store.db)
    runner = ReindexRunner(
        knowledge=kb,
        lease=SqlReindexLease(store.db),
        clock=clock,
        sources=sources,
        configured=[corpus],
    )
    audit = SqlAuditLog(store.db)
    commands = Commands(
        store=store,
        access=Access([f"memory:{ADMIN.id}"]),
        clock=clock,
        knowledge=kb,
        audit=audit,
        kb_runs=runner,
        kb_policy=SourcePolicy(
            allowed_hosts=allowed_hosts,
            add_roots=(tmp_path / "more",),
            fetched_dir=tmp_path / "data" / "kb-added",
        ),
    )
    adapter = MemoryAdapter(clock=clock)
    return Rig(
        commands=commands,
        runner=runner,
        adapter=adapter,
        delivery=Delivery(adapter, clock=clock),
        kb=kb,
        store=store,
        audit=audit,
        embedder=embedder,
        corpus=corpus,
    )


async def close_rig(rig: Rig) -> None:
    rig.embedder.open()
    await rig.runner.close()
    await rig.kb.close()
    await rig.store.close()
