"""The `usage [today|week|month] [@user|#channel]` command: who may see what, and the answer.

A user sees their own usage (in this workspace, every channel); an admin sees everyone's in the
workspace the command was typed in, or one person's (`@user`) or one channel's (`#channel`,
`#here` for this one). The console operator, an admin of every platform, sees every workspace.
Someone who is not an admin asking about another person or a channel is refused, privately, and
the refusal is in the admin audit log like an admin's report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.refs import Author, ConversationRef
from bot.usage.ledger import DIMENSIONS, UsageLedger, UsageQuery
from bot.usage.periods import Now, period_start, utc_now
from bot.usage.prices import PriceTable
from bot.usage.report import UsageRequest, load_report, parse_request, period_title, render_text


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageAnswer:
    text: str
    audit: str | None = None
    """The audit log's result ("ok", "refused") when the request was an admin's kind."""
    target: str = ""


class UsageReports:
    def __init__(self, ledger: UsageLedger, prices: PriceTable, *, now: Now = utc_now) -> None:
        self._ledger = ledger
        self._prices = prices
        self._now = now

    async def answer(
        self,
        ref: ConversationRef,
        author: Author,
        words: Sequence[str],
        *,
        is_admin: Callable[[], Awaitable[bool]],
    ) -> UsageAnswer:
        try:
            request = parse_request(words)
        except ValueError as exc:
            return UsageAnswer(text=str(exc))
        if request.channel is not None and request.channel.lower() == "here":
            request = dataclasses.replace(request, channel=ref.channel_id)
        admin = await is_admin()
        mine = request.channel is None and request.user in (None, author.id, author.display_name)
        if not admin and not mine:
            return UsageAnswer(
                text="Only admins can see other people's or a channel's usage; `usage` alone "
                "shows yours.",
                audit="refused",
                target=request.target,
            )
        since = period_start(request.period, self._now())
        everywhere = ref.platform == "console"
        query = UsageQuery(
            since=since,
            platform=None if everywhere else ref.platform,
            workspace_id=None if everywhere else ref.workspace_id,
            user=request.user if admin else author.id,
            channel_id=request.channel,
        )
        dimensions: tuple[str, ...] = DIMENSIONS
        if admin:
            scope = _scope(request, everywhere)
        else:
            scope, dimensions = "yours", tuple(d for d in DIMENSIONS if d != "user")
        report = await load_report(
            self._ledger,
            query,
            self._prices,
            title=period_title(request.period, since, scope),
            dimensions=dimensions,
        )
        text = render_text(report, dimensions=dimensions)
        return UsageAnswer(text=text, audit="ok" if admin else None, target=request.target)


def _scope(request: UsageRequest, everywhere: bool) -> str:
    if request.user:
        return f"@{request.user}"
    if request.channel:
        return f"#{request.channel}"
    return "every workspace" if everywhere else "this workspace"
