"""`forget-me` and `export-me`: a person's own data, on their own request.

`forget-me` asks first, privately, with a **Forget me** and a **Cancel** button (or, where
there are no buttons to press, `forget-me confirm` typed). The buttons carry only a short hash of
who asked; a click by anyone else is refused, so a card seen by others forgets no one. Forgetting
waits while an approval of theirs is pending (the paused turn holds their prompt until it is
decided); it deletes their messages and the answers to them, drops the summaries built from
them, cancels the messages they scheduled, and puts a pseudonym in place of their name in
usage, approval and audit rows (`storage.privacy` has the details).

`export-me` sends a JSON document of everything stored about them, privately: as a file where
the adapter can hand one to one person (`bot.adapter.PrivateFiles`: the console writes it to a
folder, Slack uploads it into their direct messages with the bot), else, or when that fails, as
its text in private messages, split by the delivery engine (inside a code fence that each part
closes and reopens). Discord and Teams get the text: a file posted where the command was typed
would be seen by everyone in the channel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from bot.adapter import PrivateFiles
from bot.core.actions import Decision
from bot.core.grammar import Invocation
from bot.delivery import Delivery
from bot.events import ActionClick, ActionResult, Command
from bot.logs import get_logger
from bot.messages import Action, ActionStyle, OutgoingMessage
from bot.refs import Author
from bot.tools.builtin.schedule import MessageScheduler
from bot.userdata import UserData

log = get_logger(__name__)

FORGET, CANCEL = "forget-me", "forget-me-cancel"
EXPORT_FORMAT = "parley-export/1"
ASK = (
    "This deletes the messages you wrote to me and my answers to them, in every conversation on "
    "this platform, drops the conversation summaries built from them and cancels the messages "
    "you scheduled; your name in usage, approval and audit records is replaced by a pseudonym. "
    "It cannot be undone. Other people's messages stay."
)
PENDING = (
    "You have an approval still pending ({ids}); I keep what it needs until it is decided or "
    "expires. Decide it (or wait for it to expire), then send `forget-me` again."
)


def _who(platform: str, user_id: str) -> str:
    """What a confirmation button carries: a short hash of who asked, not their id."""
    return hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()[:16]


class PrivacyCommands:
    def __init__(
        self,
        data: UserData,
        *,
        scheduler: MessageScheduler | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._data = data
        self._scheduler = scheduler
        self._now = now

    # --- forget-me -------------------------------------------------------------------------
    async def forget_me(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        platform, author = command.ref.platform, command.author
        if invocation.args == ("confirm",):
            await _private(command, delivery, await self._forget_now(platform, author))
            return
        if note := await self._pending_note(platform, author):
            await _private(command, delivery, note)
            return
        who = _who(platform, author.id)
        card = OutgoingMessage(
            text_markdown=f"{ASK}\n\nPress *Forget me* to go ahead (or send `forget-me confirm`).",
            actions=(
                Action(id=FORGET, label="Forget me", value=who, style=ActionStyle.DANGER),
                Action(id=CANCEL, label="Cancel", value=who),
            ),
        )
        await _private(command, delivery, card)

    async def on_click(self, click: ActionClick) -> Decision:
        """The confirmation card's buttons (`forget-me`, `forget-me-cancel`)."""
        platform, author = click.ref.platform, click.author
        if click.value != _who(platform, author.id):
            return _tell("This button is for the person who asked; send `forget-me` yourself.")
        if click.action_id == CANCEL:
            return _tell("Cancelled: nothing was deleted.")
        return _tell(await self._forget_now(platform, author))

    async def _pending_note(self, platform: str, author: Author) -> str | None:
        pending = await self._data.pending_approvals(platform, author.id)
        return PENDING.format(ids=", ".join(pending)) if pending else None

    async def _forget_now(self, platform: str, author: Author) -> str:
        """Forget them unless an approval of theirs is pending; what to tell them either way."""
        try:
            return await self._pending_note(platform, author) or await self._forget(
                platform, author
            )
        except Exception as exc:
            log.exception("forget-me failed")
            return (
                f"Sorry, forgetting did not finish ({exc}). Send `forget-me confirm` to finish it."
            )

    async def _forget(self, platform: str, author: Author) -> str:
        report = await self._data.forget(platform, author.id)  # one transaction
        cancelled = 0
        if self._scheduler is not None:
            for job in self._scheduler.requested_by(author.qualified_id(platform)):
                cancelled += self._scheduler.cancel(job.job_id)
        log.info(
            "forgot a user on request",
            pseudonym=report.pseudonym,
            messages=report.messages,
            summaries=report.summaries,
            anonymized=report.anonymized,
            scheduled=cancelled,
        )
        return (
            f"Done: I deleted {report.messages} messages (yours and my answers to them), "
            f"{report.summaries} conversation summaries and {cancelled} scheduled messages, and "
            f"replaced your name in {report.anonymized} usage, approval and audit records."
        )

    # --- export-me -------------------------------------------------------------------------
    async def export_me(self, command: Command, invocation: Invocation, delivery: Delivery) -> None:
        ref, author = command.ref, command.author
        try:
            document = await self.document(ref.platform, author)
        except Exception as exc:
            log.exception("export-me failed")
            await _private(command, delivery, f"Sorry, the export failed ({exc}). Try again later.")
            return
        data = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        adapter = delivery.adapter
        if isinstance(adapter, PrivateFiles):
            stamp = self._now().strftime("%Y%m%dT%H%M%S%fZ")
            name = f"parley-export-{ref.platform}-{_who(ref.platform, author.id)}-{stamp}.json"
            try:
                where = await adapter.send_private_file(
                    ref, author.id, name, data.encode(), origin=command.origin
                )
            except Exception as exc:  # e.g. an install without the upload scopes: use text
                log.warning("could not send the export as a file", error=str(exc))
            else:
                await _private(command, delivery, f"Your data export is in {where}")
                return
        await _private(
            command,
            delivery,
            f"Everything I store about you (JSON, {EXPORT_FORMAT}):\n\n```json\n{data}\n```",
        )

    async def document(self, platform: str, author: Author) -> dict[str, Any]:
        """The export: who, when, every stored row by table, and the messages they scheduled."""
        scheduled: list[dict[str, Any]] = []
        if self._scheduler is not None:
            for job in self._scheduler.requested_by(author.qualified_id(platform)):
                row = asdict(job)
                row["at"] = job.at.isoformat() if job.at else None
                scheduled.append(row)
        return {
            "format": EXPORT_FORMAT,
            "user": {"platform": platform, "id": author.id},
            "exported_at": self._now().isoformat(),
            "tables": await self._data.export(platform, author.id),
            "scheduled_messages": scheduled,
        }


def _tell(text: str) -> Decision:
    return Decision(result=ActionResult(private=OutgoingMessage.text(text)))


async def _private(command: Command, delivery: Delivery, message: OutgoingMessage | str) -> None:
    await delivery.tell(command, message)
