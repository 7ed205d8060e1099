"""Slash and admin commands, by a dispatch table: `help`, `reset`, `kb reindex|status|search`,
`approve`/`deny` (handed to the tool host), the `usage` report (`bot.core.usage_report`) and
the usage text of a known command used wrongly. The words
were parsed by the one grammar (`bot.core.grammar`); `ask` never gets here, it is a question.

Replies only the caller needs (help, reset, kb status/search, refusals) are private where the
platform allows it; a reindex posts a progress message in the conversation and edits it as the
run advances, ending with the run's report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from bot.clock import Clock
from bot.core.access import Access
from bot.core.grammar import USAGE, USAGE_REPORT, Invocation
from bot.core.toolhost import ToolHost
from bot.core.usage_report import UsageReports
from bot.delivery import Delivery
from bot.events import Command
from bot.logs import get_logger
from bot.messages import OutgoingMessage
from bot.ports import AdminAction, AuditLog, ConversationStore, KnowledgeAdmin, scopes_for

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
• `usage [today|week|month]`: your tokens and estimated cost; admins: everyone's, or `@user` / `#channel`
• `help`: this text"""

Handler = Callable[[Command, Invocation, Delivery], Awaitable[None]]


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
        audit: AuditLog | None = None,
        usage_reports: UsageReports | None = None,
    ) -> None:
        self._store = store
        self._usage_reports = usage_reports
        self._audit = audit
        self._access = access
        self._clock = clock
        self._knowledge = knowledge
        self._tool_host = tool_host
        self._reindex_roots = tuple(root.resolve() for root in reindex_roots)
        self._table: Mapping[str, Handler] = {
            "help": self._help,
            "reset": self._reset,
            "usage": self._usage,
            "kb": self._kb,
            "approve": self._decide,
            "deny": self._decide,
            USAGE_REPORT: self._usage_report,
        }

    async def handle(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        handler = self._table.get(invocation.name, self._help)
        await handler(command, invocation, delivery)

    async def _private(self, command: Command, delivery: Delivery, text: str) -> None:
        try:
            await delivery.private(
                command.ref, command.author.id, OutgoingMessage.text(text), origin=command.origin
            )
        except Exception:
            log.exception("could not send a command's answer", command=command.text[:40])

    async def _require_admin(
        self, command: Command, delivery: Delivery, action: str, what: str, target: str = ""
    ) -> bool:
        """True for an admin; anyone else is told privately, and the refusal is audited."""
        if await self._access.is_admin(command.ref, command.author):
            return True
        await self._private(command, delivery, f"Only admins can {what}.")
        await self._record(command, action, target, "refused")
        return False

    async def _record(self, command: Command, action: str, target: str, result: str) -> None:
        """Append to the admin audit log; a failing log is reported, never fatal."""
        if self._audit is None:
            return
        entry = AdminAction(
            platform=command.ref.platform,
            workspace_id=command.ref.workspace_id,
            channel_id=command.ref.channel_id,
            actor_id=command.author.id,
            action=action,
            target=target,
            result=result,
        )
        try:
            await self._audit.record(entry)
        except Exception:
            log.exception("could not write the admin audit log", action=action)

    async def _help(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        await self._private(command, delivery, HELP)

    async def _reset(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        await self._store.reset(command.ref.memory_key)
        await self._private(
            command,
            delivery,
            "Done: I've forgotten this conversation. The next message starts fresh.",
        )

    async def _usage(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        name = invocation.args[0] if invocation.args else ""
        await self._private(command, delivery, f"Usage: {USAGE.get(name, '`help`')}")

    async def _usage_report(
        self, command: Command, invocation: Invocation, delivery: Delivery
    ) -> None:
        if self._usage_reports is None:
            await self._private(command, delivery, "Usage reports are not available here.")
            return
        answer = await self._usage_reports.answer(
            command.ref,
            command.author,
            invocation.args,
            is_admin=lambda: self._access.is_admin(command.ref, command.author),
        )
        if answer.audit is not None:
            await self._record(command, "usage", answer.target, answer.audit)
        await self._private(command, delivery, answer.text)

    async def _decide(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        host = self._tool_host
        if host is None:
            await self._private(command, delivery, "There is no pending approval with that id.")
            return
        await host.on_command(command, invocation.name, invocation.args[0], delivery)

    async def _kb(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        sub, *rest = invocation.args or ("status",)
        if self._knowledge is None:
            await self._private(
                command, delivery, "The knowledge base is not available in this deployment."
            )
            return
        try:
            if sub == "status":
                # The status names the server's folders and files: for admins only.
                if await self._require_admin(command, delivery, "kb status", "see `kb status`"):
                    await self._private(command, delivery, await self._knowledge.status())
            elif sub == "search" and rest:
                await self._kb_search(command, delivery, " ".join(rest))
            elif sub == "reindex":
                if await self._require_admin(
                    command, delivery, "kb reindex", "reindex the knowledge base", " ".join(rest)
                ):
                    await self._kb_reindex(command, delivery, rest)
            else:
                await self._private(command, delivery, f"Usage: {USAGE['kb']}")
        except Exception as exc:
            log.exception("knowledge command failed", sub=sub)
            await self._private(command, delivery, f"The knowledge base command failed: {exc}")

    async def _kb_search(self, command: Command, delivery: Delivery, query: str) -> None:
        assert self._knowledge is not None
        hits = await self._knowledge.search(query, scopes=scopes_for(command.ref))
        if not hits:
            await self._private(
                command, delivery, f"Nothing in the knowledge base matches “{query}”."
            )
            return
        lines = [f"*Top passages for “{query}”*"]
        for n, hit in enumerate(hits, 1):
            where = f"{hit.source} § {hit.section}" if hit.section else hit.source
            snippet = " ".join(hit.text.split())[:160]
            lines.append(f"{n}. `{hit.score:.3f}` *{hit.title}* ({where})\n   {snippet}…")
        await self._private(command, delivery, "\n".join(lines))

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
                origin=command.origin,
            )
            return
        handle = await delivery.post(
            command.ref,
            OutgoingMessage.text("Reindexing the knowledge base…"),
            origin=command.origin,
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
        report, result = "Reindex stopped before it finished.", "failed: stopped"
        try:
            report = await self._knowledge.reindex(paths, progress=latest.update)
            result = "ok"
        except Exception as exc:
            log.exception("reindex failed")
            report, result = f"Reindex failed: {exc}", f"failed: {exc}"
        finally:
            await self._record(command, "kb reindex", " ".join(paths), result)
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
            await delivery.update(handle, OutgoingMessage.text(report))


def _within(path: Path, roots: Sequence[Path]) -> bool:
    """Chat-driven reindexing may only touch the configured knowledge folders."""
    return any(path.resolve().is_relative_to(root) for root in roots)
