"""The `kb` commands from chat: search (anyone), and for admins reindex, cancel, status, sources,
add and remove; plus the Cancel button on a reindex's progress message.

Every admin command goes through the caller's admin check (refused privately, audited) and is
recorded in the admin audit log with its result. A reindex runs in the background
(`bot.core.kb_runs`): the command posts one progress message in the conversation, with a Cancel
button, edits it in place as the run advances and replaces it with the summary at the end; the
conversation stays free for questions meanwhile. Only one reindex runs at a time across every
process sharing the database; a second request is told who runs one and how far it is. What
names the server's folders and files (status, sources, refusals) is answered privately.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.core import kb_text
from bot.core.access import Access
from bot.core.actions import Decision
from bot.core.grammar import USAGE
from bot.core.kb_runs import ReindexRunner, Run, resolved
from bot.core.kb_sources import SourcePolicy, SourceRefused, is_url
from bot.delivery import Delivery
from bot.events import ActionClick, ActionResult, Command, Origin, OriginKind
from bot.logs import get_logger
from bot.messages import Action, ActionStyle, OutgoingMessage
from bot.ports import (
    KnowledgeAdmin,
    KnowledgeSource,
    LastReindex,
    LeaseHolder,
    ReindexSummary,
    scopes_for,
)
from bot.refs import Author, ConversationRef

log = get_logger(__name__)

CANCEL = "cancel"
"""The action id of a progress message's Cancel button; its value is the run id."""

Private = Callable[[Command, Delivery, str], Awaitable[None]]
RequireAdmin = Callable[[Command, Delivery, str, str, str], Awaitable[bool]]
Record = Callable[[Command, str, str, str], Awaitable[None]]


def actor_of(ref: ConversationRef, author: Author) -> str:
    """How a run's starter is shown: "Ada (slack:U1)"."""
    who = author.qualified_id(ref.platform)
    return f"{author.display_name} ({who})" if author.display_name else who


class KbAdmin:
    def __init__(
        self,
        *,
        knowledge: KnowledgeAdmin,
        access: Access,
        private: Private,
        require_admin: RequireAdmin,
        record: Record,
        runs: ReindexRunner | None = None,
        policy: SourcePolicy | None = None,
    ) -> None:
        self._knowledge = knowledge
        self._access = access
        self._private = private
        self._require_admin = require_admin
        self._record = record
        self._runs = runs
        self._sources = runs.sources if runs is not None else None
        self._policy = policy
        self._table = {
            "reindex": ("reindex the knowledge base", self._reindex),
            "cancel": ("cancel a reindex", self._cancel),
            "status": ("see `kb status`", self._status),
            "sources": ("see `kb sources`", self._list_sources),
            "add": ("add knowledge sources", self._add),
            "remove": ("remove knowledge sources", self._remove),
        }

    async def handle(self, command: Command, args: Sequence[str], delivery: Delivery) -> None:
        sub, *rest = args or ("status",)
        try:
            if sub == "search" and rest:
                await self._search(command, delivery, " ".join(rest))
                return
            if sub not in self._table:
                await self._private(command, delivery, f"Usage: {USAGE['kb']}")
                return
            what, handler = self._table[sub]
            action, target = f"kb {sub}", " ".join(rest)
            if not await self._require_admin(command, delivery, action, what, target):
                return
            if self._runs is None and sub != "status":
                await self._private(
                    command, delivery, "Knowledge administration is not available here."
                )
                return
            result = await handler(command, delivery, list(rest))
            await self._record(command, action, target, result)
        except Exception as exc:
            log.exception("knowledge command failed", sub=sub)
            await self._private(command, delivery, f"The knowledge base command failed: {exc}")
            await self._record(command, f"kb {sub}", " ".join(rest), f"failed: {exc}")

    # --- search (anyone) --------------------------------------------------------------------
    async def _search(self, command: Command, delivery: Delivery, query: str) -> None:
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

    # --- reindex and cancel -----------------------------------------------------------------
    async def _reindex(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        assert self._runs is not None
        roots = await self._runs.roots()
        by_source = {s.source: s.path for s in await self._registered()}
        paths: list[str] = []
        outside: list[str] = []
        for arg in args:
            path = by_source.get(arg) or resolved(arg)
            (paths if _within(Path(path), roots) else outside).append(
                path if arg in by_source else arg
            )
        if outside:
            shown = ", ".join(roots) or "(none configured)"
            await self._private(
                command,
                delivery,
                f"Not reindexed: {', '.join(outside)} is outside the knowledge folders "
                f"({shown}). Add it to KNOWLEDGE_PATHS, add it with `kb add`, or run "
                "`python -m bot kb reindex` on the server.",
            )
            return "refused: outside the knowledge folders"
        return await self._start(command, delivery, paths or roots, " ".join(args))

    async def _start(
        self, command: Command, delivery: Delivery, paths: Sequence[str], target: str
    ) -> str:
        """Take the lease, post the progress message and run in the background."""
        assert self._runs is not None
        run = await self._runs.acquire(actor=actor_of(command.ref, command.author), target=target)
        if isinstance(run, LeaseHolder):
            await self._private(command, delivery, kb_text.busy_text(run))
            return f"busy: {run.actor} runs one"
        button = Action(id=CANCEL, label="Cancel", value=run.id, style=ActionStyle.DANGER)
        try:
            handle = await delivery.post(
                command.ref,
                OutgoingMessage(text_markdown=kb_text.progress_text(target, {}), actions=(button,)),
                origin=command.origin,
            )
        except BaseException:
            await self._runs.lease.release(
                run.id, _ended(run, "failed", "the progress message could not be posted")
            )
            raise

        async def on_progress(run: Run, progress: dict[str, float], cancel_by: str) -> None:
            message = OutgoingMessage(
                text_markdown=kb_text.progress_text(run.target, progress, cancel_by),
                actions=() if cancel_by else (button,),
            )
            await delivery.update(handle, message, priority=False)

        async def on_done(run: Run, summary: ReindexSummary, cancelled_by: str) -> None:
            text = kb_text.summary_text(run.target, summary, cancelled_by=cancelled_by)
            await delivery.update(handle, OutgoingMessage.text(text))
            await self._record(command, "kb reindex finished", run.target, summary.outcome)

        self._runs.spawn(run, paths, on_progress=on_progress, on_done=on_done)
        return "started"

    async def _cancel(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        assert self._runs is not None
        holder = await self._runs.cancel(actor_of(command.ref, command.author))
        if holder is None:
            await self._private(command, delivery, "No reindex is running.")
            return "nothing to cancel"
        await self._private(
            command,
            delivery,
            f"Cancelling the reindex of {kb_text.target_name(holder.target)} started by "
            f"{holder.actor} ({kb_text.progress_counts(holder.progress)}). Finished documents "
            "are kept; the next `kb reindex` resumes with the rest.",
        )
        return "ok"

    async def on_click(self, click: ActionClick) -> Decision:
        """The Cancel button: for admins, stops the run the button belongs to."""
        note = ""
        command = Command(
            event_id=click.event_id,
            ref=click.ref,
            author=click.author,
            text="kb cancel",
            origin=Origin(kind=OriginKind.ACTION),
        )
        if not await self._access.is_admin(click.ref, click.author):
            note = "Only admins can cancel a reindex."
            await self._record(command, "kb cancel", click.value, "refused")
        elif (
            self._runs is None
            or (holder := await self._runs.lease.holder()) is None
            or (holder.run_id != click.value)
        ):
            note = "That reindex has already finished."
        else:
            await self._runs.cancel(actor_of(click.ref, click.author))
            await self._record(command, "kb cancel", click.value, "ok")
            note = "Cancelling the reindex; finished documents are kept."
        return Decision(result=ActionResult(private=OutgoingMessage.text(note)))

    # --- status and sources -----------------------------------------------------------------
    async def _status(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        lines = [await self._knowledge.status()]
        if self._runs is not None:
            lease = self._runs.lease
            lines += [
                kb_text.running_line(await lease.holder()),
                kb_text.last_line(await lease.last()),
            ]
        await self._private(command, delivery, "\n".join(lines))
        return "ok"

    async def _registered(self) -> list[KnowledgeSource]:
        return await self._sources.sources() if self._sources is not None else []

    async def _list_sources(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        assert self._runs is not None
        known = {s.path: s for s in await self._registered()}
        roots = await self._runs.roots()
        counts = await self._runs.knowledge.document_counts(roots)
        lines = ["*Knowledge sources*"]
        for root in roots:
            source = known.get(root) or KnowledgeSource(path=root, source=root, kind="configured")
            lines.append(_source_line(source, counts.get(root, 0)))
        if not roots:
            lines.append("None configured: set KNOWLEDGE_PATHS, or add one with `kb add`.")
        await self._private(command, delivery, "\n".join(lines))
        return "ok"

    # --- add and remove ---------------------------------------------------------------------
    async def _add(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        assert self._runs is not None
        if len(args) == 2 and is_url(args[1].strip("()")):
            args = [args[1].strip("()")]  # a link shown as "label (url)", as Slack's are
        if len(args) != 1 or self._policy is None or self._sources is None:
            await self._private(command, delivery, "Usage: `kb add <URL or server path>`")
            return "refused: usage"
        text, policy = args[0], self._policy
        try:
            if is_url(text):
                path, kind = await policy.fetch(text), "url"
            else:
                path, kind = policy.check_path(text, self._runs.configured), "path"
        except SourceRefused as exc:
            await self._private(command, delivery, str(exc))
            return f"refused: {exc}"
        source = KnowledgeSource(
            path=str(path),
            source=text if kind == "url" else str(path),
            kind=kind,
            added_by=actor_of(command.ref, command.author),
        )
        if not await self._sources.add(source):
            if kind == "path":
                await self._private(command, delivery, f"`{source.source}` is already a source.")
                return "refused: already a source"
            note = f"Fetched `{source.source}` again; indexing the new copy now."
        else:
            note = f"Added `{source.source}` as a knowledge source; indexing it now."
        await self._private(command, delivery, note)
        return await self._start(command, delivery, [str(path)], source.source)

    async def _remove(self, command: Command, delivery: Delivery, args: list[str]) -> str:
        assert self._runs is not None and self._sources is not None
        name = " ".join(args)
        local = "" if is_url(name) else resolved(name)
        found = [
            s
            for s in await self._registered()
            if s.kind != "configured" and (name in (s.source, s.path) or s.path == local)
        ]
        if not found:
            configured = local in self._runs.configured
            await self._private(
                command,
                delivery,
                f"`{name}` is set in KNOWLEDGE_PATHS; remove it there and restart."
                if configured
                else f"`{name}` is not a source added with `kb add` (see `kb sources`).",
            )
            return "refused: not an added source"
        source = found[0]
        run = await self._runs.acquire(
            actor=actor_of(command.ref, command.author), target=f"remove {source.source}"
        )
        if isinstance(run, LeaseHolder):
            await self._private(command, delivery, kb_text.busy_text(run))
            return f"busy: {run.actor} runs one"
        outcome, removed = "failed", 0
        try:
            removed = await self._runs.knowledge.remove_source(source.path)
            await self._sources.remove(source.path)
            if source.kind == "url":
                _delete(source.path)
            outcome = "ok"
        finally:
            headline = f"{source.source} removed with its {removed} indexed documents"
            await self._runs.lease.release(run.id, _ended(run, outcome, headline))
        await self._private(
            command,
            delivery,
            f"Removed `{source.source}` and its {removed} indexed document(s) from the knowledge "
            "base.",
        )
        return "ok"


def _source_line(source: KnowledgeSource, documents: int) -> str:
    when = (
        f"last indexed {kb_text.ago(source.last_indexed_at)} ({source.last_outcome})"
        if source.last_indexed_at
        else "never indexed"
    )
    by = f", added by {source.added_by}" if source.added_by else ""
    kind = {"configured": "KNOWLEDGE_PATHS", "url": "URL", "path": "path"}.get(source.kind, "")
    return f"• `{source.source}` ({kind}{by}): {documents} documents, {when}"


def _ended(run: Run, outcome: str, headline: str) -> LastReindex:
    return LastReindex(
        actor=run.actor,
        target=run.target,
        finished_at=datetime.now(UTC),
        outcome=outcome,
        headline=headline,
    )


def _delete(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def _within(path: Path, roots: Sequence[str]) -> bool:
    """Chat-driven reindexing may only touch the knowledge sources."""
    return any(path.resolve().is_relative_to(Path(root)) for root in roots)
