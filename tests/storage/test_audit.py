"""The admin audit log, through the commands that write it, on SQLite and PostgreSQL: a refusal
and a completed reindex are both recorded with who, what, where and how it ended; a platform
role directory makes an admin, and one that fails makes nobody an admin."""

from __future__ import annotations

from collections.abc import Sequence

from bot.clock import FakeClock
from bot.core.access import Access
from bot.core.commands import Commands
from bot.core.grammar import parse
from bot.delivery import Delivery
from bot.events import Command, Origin, OriginKind
from bot.ports import ProgressCallback
from bot.refs import Author, ConversationRef
from storage import SqlStore
from storage.audit import SqlAuditLog
from tests.fakes.memory_adapter import MemoryAdapter


class _Knowledge:
    async def reindex(
        self, paths: Sequence[str] = (), *, progress: ProgressCallback | None = None
    ) -> str:
        return "Indexed 3 documents."


class _Directory:
    def __init__(self, admins: set[str], *, broken: bool = False) -> None:
        self.admins, self.broken = admins, broken

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool:
        if self.broken:
            raise ConnectionError("users.info timed out")
        return user_id in self.admins


def _command(ref: ConversationRef, user: str, text: str) -> Command:
    return Command(
        event_id=f"{user}:{text}",
        ref=ref,
        author=Author(id=user),
        text=text,
        origin=Origin(kind=OriginKind.COMMAND),
    )


async def _run(
    commands: Commands, adapter: MemoryAdapter, command: Command, clock: FakeClock
) -> None:
    invocation = parse(command.text, typed=False)
    assert invocation is not None
    await commands.handle(command, invocation, Delivery(adapter, clock=clock))


async def test_admin_actions_and_refusals_are_audited(store: SqlStore) -> None:
    clock = FakeClock()
    adapter = MemoryAdapter(clock=clock)
    audit = SqlAuditLog(store.db)
    memory_ref = ConversationRef(platform="memory", workspace_id="T1", channel_id="C1")
    commands = Commands(
        store=store,
        access=Access([], {"memory": _Directory({"U_OWNER"})}),
        clock=clock,
        knowledge=_Knowledge(),  # type: ignore[arg-type]
        audit=audit,
    )
    await _run(commands, adapter, _command(memory_ref, "U_GUEST", "kb reindex"), clock)
    await _run(commands, adapter, _command(memory_ref, "U_OWNER", "kb reindex"), clock)

    assert adapter.private_texts() == ["Only admins can reindex the knowledge base."]
    newest, oldest = await audit.entries()
    assert (oldest.actor_id, oldest.action, oldest.result) == ("U_GUEST", "kb reindex", "refused")
    assert (newest.actor_id, newest.action, newest.result) == ("U_OWNER", "kb reindex", "ok")
    assert newest.channel_id == "C1" and newest.workspace_id == "T1"
    assert newest.at is not None and oldest.at is not None and newest.at >= oldest.at


async def test_a_failing_role_directory_grants_nothing() -> None:
    ref = ConversationRef(platform="slack", workspace_id="T1", channel_id="C1")
    access = Access(["slack:U_NAMED"], {"slack": _Directory({"U_OWNER"}, broken=True)})
    assert not await access.is_admin(ref, Author(id="U_OWNER"))
    assert await access.is_admin(ref, Author(id="U_NAMED"))
    console = ConversationRef(platform="console", workspace_id="local", channel_id="c")
    assert await access.is_admin(console, Author(id="anyone"))
