"""Slash and admin commands, by a dispatch table: `help`, `reset`, `ask`, `kb reindex|status|search`,
and `approve`/`deny` (handed to the tool host). An unknown command gets the help text.

Replies only the caller needs (help, reset, kb status/search, refusals) are private where the
platform allows it; a reindex posts a progress message in the conversation and edits it as the
run advances, ending with the run's report.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from bot.adapter import Adapter
from bot.clock import Clock
from bot.core.access import Access
from bot.core.toolhost import ToolHost
from bot.delivery import Delivery
from bot.events import Command
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.ports import ConversationStore, KnowledgeAdmin, scopes_for

log = get_logger(__name__)

HELP = """\
*Parley* answers questions from your team's knowledge base, with sources.
• Mention me in a channel, message me directly, or use the commands below.
• `ask <question>`: ask a question
• `reset`: forget this conversation's memory
• `kb search <query>`: show the best knowledge-base passages
• `kb status`: documents, chunks, model and last run
• `kb reindex [path ...]`: reindex the knowledge base (admins)
• `approve <id>` / `deny <id>`: decide a pending tool approval
• `help`: this text"""

KB_SUBCOMMANDS = frozenset({"status", "search", "reindex"})
_APPROVAL_ID = re.compile(r"[0-9a-f]{8,32}")


def text_command(text: str) -> tuple[str, tuple[str, ...]] | None:
    """A message to the bot that is a command, not a question: exactly `reset` or `help`,
    `approve <id>` / `deny <id>`, or `kb status|search|reindex …` (a leading `/` allowed).
    Anything else, "help me with X" included, stays a question."""
    words = text.split()
    if not words:
        return None
    head = words[0].lower().lstrip("/")
    if len(words) == 1 and head in ("reset", "help"):
        return head, ()
    if head in ("approve", "deny") and len(words) == 2 and _APPROVAL_ID.fullmatch(words[1]):
        return head, (words[1],)
    if head == "kb" and len(words) >= 2 and words[1].lower() in KB_SUBCOMMANDS:
        return "kb", (words[1].lower(), *words[2:])
    return None


Handler = Callable[[Command, Adapter, Delivery], Awaitable[None]]


class Commands:
    def __init__(
        self,
        *,
        store: ConversationStore,
        access: Access,
        clock: Clock,
        knowledge: KnowledgeAdmin | None = None,
        tool_host: ToolHost | None = None,
        reindex_roots: Sequence[Path] = (),
    ) -> None:
        self._store = store
        self._access = access
        self._clock = clock
        self._knowledge = knowledge
        self._tool_host = tool_host
        self._reindex_roots = tuple(root.resolve() for root in reindex_roots)
        self._table: Mapping[str, Handler] = {
            "help": self._help,
            "reset": self._reset,
            "ask": self._ask_usage,
            "kb": self._kb,
            "approve": self._decide,
            "deny": self._decide,
        }

    async def handle(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        handler = self._table.get(command.name.lower(), self._help)
        await handler(command, adapter, delivery)

    async def _private(self, command: Command, adapter: Adapter, text: str) -> None:
        await adapter.send_private(
            command.ref, command.author.id, OutgoingMessage.text(text), hint=command.response_hint
        )

    async def _help(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        await self._private(command, adapter, HELP)

    async def _reset(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        await self._store.reset(command.ref.memory_key)
        await self._private(
            command,
            adapter,
            "Done: I've forgotten this conversation. The next message starts fresh.",
        )

    async def _ask_usage(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        """`ask` with a question never gets here: the pipeline turns it into the question."""
        await self._private(command, adapter, "Usage: `ask <question>`")

    async def _decide(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        host = self._tool_host
        if host is None or not await host.on_command(command, delivery):
            await self._private(command, adapter, "There is no pending approval with that id.")

    async def _kb(self, command: Command, adapter: Adapter, delivery: Delivery) -> None:
        sub, *rest = command.args or ("status",)
        if self._knowledge is None:
            await self._private(
                command, adapter, "The knowledge base is not available in this deployment."
            )
            return
        try:
            if sub == "status":
                await self._private(command, adapter, await self._knowledge.status())
            elif sub == "search" and rest:
                await self._kb_search(command, adapter, " ".join(rest))
            elif sub == "reindex":
                if not self._access.is_admin(command.ref, command.author):
                    await self._private(
                        command,
                        adapter,
                        "Only admins (ADMIN_USERS) can reindex the knowledge base.",
                    )
                    return
                await self._kb_reindex(command, delivery, rest)
            else:
                await self._private(
                    command,
                    adapter,
                    "Usage: `kb status`, `kb search <query>` or `kb reindex [path ...]`",
                )
        except Exception as exc:
            log.exception("knowledge command failed", sub=sub)
            await self._private(command, adapter, f"The knowledge base command failed: {exc}")

    async def _kb_search(self, command: Command, adapter: Adapter, query: str) -> None:
        assert self._knowledge is not None
        hits = await self._knowledge.search(query, scopes=scopes_for(command.ref))
        if not hits:
            await self._private(
                command, adapter, f"Nothing in the knowledge base matches “{query}”."
            )
            return
        lines = [f"*Top passages for “{query}”*"]
        for n, hit in enumerate(hits, 1):
            where = f"{hit.source} § {hit.section}" if hit.section else hit.source
            snippet = " ".join(hit.text.split())[:160]
            lines.append(f"{n}. `{hit.score:.3f}` *{hit.title}* ({where})\n   {snippet}…")
        await self._private(command, adapter, "\n".join(lines))

    async def _kb_reindex(self, command: Command, delivery: Delivery, paths: list[str]) -> None:
        assert self._knowledge is not None
        outside = [p for p in paths if not _within(Path(p), self._reindex_roots)]
        if outside:
            roots = ", ".join(str(r) for r in self._reindex_roots) or "(none configured)"
            await delivery.post(
                command.ref,
                OutgoingMessage.text(
                    f"Not reindexed: {', '.join(outside)} is outside the knowledge folders "
                    f"({roots}). Add it to KNOWLEDGE_PATHS, or run `python -m bot kb reindex` "
                    "on the server."
                ),
            )
            return
        handle = await delivery.post(
            command.ref, OutgoingMessage.text("Reindexing the knowledge base…")
        )
        latest: dict[str, float] = {}

        async def report_progress() -> None:
            shown: dict[str, float] = {}
            while True:
                await self._clock.sleep(2.0)
                if latest and latest != shown:
                    shown = dict(latest)
                    counts = ", ".join(f"{k} {v:g}" for k, v in shown.items())
                    await delivery.update(
                        handle, OutgoingMessage.text(f"Reindexing… {counts}"), priority=False
                    )

        reporter = asyncio.create_task(report_progress())
        report = "Reindex stopped before it finished."
        try:
            report = await self._knowledge.reindex(paths, progress=latest.update)
        except Exception as exc:
            log.exception("reindex failed")
            report = f"Reindex failed: {exc}"
        finally:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
            await delivery.update(handle, OutgoingMessage.text(report))


def _within(path: Path, roots: Sequence[Path]) -> bool:
    """Chat-driven reindexing may only touch the configured knowledge folders."""
    return any(path.resolve().is_relative_to(root) for root in roots)
