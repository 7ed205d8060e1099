"""Slash and admin commands, by a dispatch table: `help`, `reset`, `kb …` (handed to
`bot.core.kb_admin`), `approve`/`deny` (handed to the tool host), `forget-me`/`export-me`
(`bot.core.privacy`), the `usage` report (`bot.core.usage_report`) and the usage text of a known
command used wrongly. The words were parsed by the one grammar (`bot.core.grammar`); `ask` never
gets here, it is a question.

Replies only the caller needs (help, reset, kb status/search, refusals) are private where the
platform allows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from bot.clock import Clock
from bot.core.access import Access
from bot.core.grammar import USAGE, USAGE_REPORT, Invocation
from bot.core.kb_admin import KbAdmin
from bot.core.kb_runs import ReindexRunner
from bot.core.kb_sources import SourcePolicy
from bot.core.privacy import PrivacyCommands
from bot.core.toolhost import ToolHost
from bot.core.usage_report import UsageReports
from bot.delivery import Delivery
from bot.events import Command
from bot.logs import get_logger
from bot.ports import AdminAction, AuditLog, ConversationStore, KnowledgeAdmin

log = get_logger(__name__)

HELP = """\
*Parley* answers questions from your team's knowledge base, with sources.
• Mention me in a channel, message me directly, or use the commands below.
• `ask <question>`: ask a question
• `reset`: forget this conversation's memory
• `kb search <query>`: show the best knowledge-base passages
• `kb status`: documents, chunks, the running and the last reindex, flagged documents (admins)
• `kb reindex [source ...]`: reindex the knowledge base in the background (admins)
• `kb cancel`: stop the running reindex; the next one resumes (admins)
• `kb sources`: what is indexed and when it was last indexed (admins)
• `kb add <URL or path>` / `kb remove <source>`: add or remove a source (admins)
• `approve <id>` / `deny <id>`: decide a pending tool approval
• `export-me`: everything I store about you, sent privately as JSON
• `forget-me`: delete your messages and my answers to them (asks first)
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
        audit: AuditLog | None = None,
        kb_runs: ReindexRunner | None = None,
        kb_policy: SourcePolicy | None = None,
        privacy: PrivacyCommands | None = None,
        usage_reports: UsageReports | None = None,
    ) -> None:
        self._store = store
        self._usage_reports = usage_reports
        self._audit = audit
        self._access = access
        self._clock = clock
        self._tool_host = tool_host
        self.kb: KbAdmin | None = None
        """The `kb` commands and the Cancel button of a reindex (None without knowledge)."""
        if knowledge is not None:
            self.kb = KbAdmin(
                knowledge=knowledge,
                access=access,
                private=self._private,
                require_admin=self._require_admin,
                record=self._record,
                runs=kb_runs,
                policy=kb_policy,
            )
        self._table: Mapping[str, Handler] = {
            "help": self._help,
            "reset": self._reset,
            "usage": self._usage,
            "kb": self._kb,
            "approve": self._decide,
            "deny": self._decide,
            USAGE_REPORT: self._usage_report,
        }
        if privacy is not None:
            self._table = {
                **self._table,
                "forget-me": privacy.forget_me,
                "export-me": privacy.export_me,
            }

    async def handle(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        handler = self._table.get(invocation.name, self._help)
        await handler(command, invocation, delivery)

    async def _private(self, command: Command, delivery: Delivery, text: str) -> None:
        await delivery.tell(command, text)

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
        if self.kb is None:
            await self._private(
                command, delivery, "The knowledge base is not available in this deployment."
            )
            return
        await self.kb.handle(command, invocation.args, delivery)
