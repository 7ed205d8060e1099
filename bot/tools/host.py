"""`ApprovingToolHost`: the `ToolHost` the conversation core calls with a step's tool calls.

How this works
--------------
`handle_calls` checks every call against the registry (unknown tool, invalid JSON, schema,
precheck → an error tool message, nothing runs). Calls whose risk for their arguments is `read`
run at once, concurrently (`CallRunner`), each under its timeout and the turn's remaining time.
If no call needs approval the step's tool messages go back in the order the model asked
(`ToolResults`).

Otherwise the turn pauses (`bot.tools.approvals` has the state machine): the turn and one
`ApprovalRequest` per such call are stored, then a card per request is posted, an expiry timer is
armed, and `Paused` goes back to the core.

A decision is taken at once, when the person clicks (`on_click`) or types `approve <id>` /
`deny <id>` (`on_command`), by the store's conditional update (`judge`): of any number of
clicks, replays and workers, one wins. The click gets its `ActionResult` straight away (the
decided card, or a private refusal), which the adapter shows in the platform's synchronous
response where it has one; the slow part (`carry_out`: audit, run the approved tool once, store
the outcome, resume the turn) is handed back to be queued in the conversation. When every
request of the turn is final, the turn is claimed once and handed to `TurnResumer.resume` with
the stored messages plus the tool messages.

Everything a decision needs is read back from the store, so a click on a card posted before a
restart resolves the same way. `start()` re-arms timers for pending requests and expires those
whose time passed while the process was down; `close()` cancels the timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

import structlog

from bot import metrics
from bot.core.actions import Decision
from bot.core.toolhost import Paused, ToolOutcome, ToolResults, TurnContext, TurnResumer
from bot.delivery.engine import Sender
from bot.events import ActionClick, ActionResult, Command, Origin
from bot.llm.types import ChatMessage, ToolCall, ToolSpec
from bot.messages import OutgoingMessage
from bot.refs import Author, ConversationRef, MessageHandle
from bot.tools.approvals import (
    SYSTEM_DECIDER,
    ApprovalRequest,
    ApprovalStatus,
    ApprovalStore,
    AuditEntry,
    PausedTurn,
    new_approval_id,
)
from bot.tools.builtin.schedule import MessageScheduler, register_poster, unregister_poster
from bot.tools.cards import approval_card, decided_card, status_text
from bot.tools.redact import args_hash, args_preview
from bot.tools.registry import ApproverPolicy, CheckedCall, ToolRegistry
from bot.tools.results import error_message, tool_message
from bot.tools.runner import CallRunner
from bot.tools.wallclock import WallClock

log = structlog.get_logger(__name__)

RECOVERY_GRACE_S = 60.0
"""Beyond the tool's timeout: how long a decided request may lack its outcome before the
start-up sweep treats it as interrupted."""
ACTIONS = {"approve": ApprovalStatus.APPROVED, "deny": ApprovalStatus.DENIED}


class CardDelivery(Protocol):
    """The part of `bot.delivery.Delivery` the host uses."""

    async def post(
        self,
        ref: ConversationRef,
        message: OutgoingMessage,
        *,
        priority: bool = True,
        origin: Origin | None = None,
    ) -> MessageHandle: ...

    async def update(
        self, handle: MessageHandle, message: OutgoingMessage, *, priority: bool = True
    ) -> None: ...

    async def tell(self, sender: Sender, message: OutgoingMessage | str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class HostLimits:
    approval_timeout_s: float = 300.0
    max_steps: int = 10
    turn_timeout_s: float = 120.0
    admins: tuple[str, ...] = ()
    """`platform:user_id` entries (ADMIN_USERS)."""


class ApprovingToolHost:
    def __init__(
        self,
        *,
        registry: ToolRegistry,
        store: ApprovalStore,
        resumer: TurnResumer,
        wall: WallClock,
        limits: HostLimits = HostLimits(),
        scheduler: MessageScheduler | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.resumer = resumer
        self.wall = wall
        self.limits = limits
        self.runner = CallRunner(
            registry=registry, store=store, wall=wall, turn_timeout_s=limits.turn_timeout_s
        )
        self._deliveries: dict[str, CardDelivery] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self.scheduler = scheduler

    # --- lifecycle ----------------------------------------------------------------------------
    def attach(self, platform: str, delivery: CardDelivery) -> None:
        """The delivery used for cards of `platform` when no event brings one (expiry)."""
        self._deliveries[platform] = delivery

    async def start(self, deliveries: Mapping[str, CardDelivery] | None = None) -> None:
        """Attach deliveries, expire requests that timed out while down, re-arm the others."""
        for platform, delivery in (deliveries or {}).items():
            self.attach(platform, delivery)
        if self.scheduler is not None:
            register_poster(self.scheduler.poster_key, self)
            self.scheduler.start()
        now = self.wall.now()
        for req in await self.store.pending():
            if req.expires_at <= now:
                await self._expire(req.id)
            else:
                self._arm(req)
        for turn_id in await self.store.paused_turns():
            await self._recover(turn_id, now)

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
            unregister_poster(self.scheduler.poster_key)
        timers = list(self._timers.values())
        for task in timers:
            task.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        self._timers.clear()

    async def post(self, ref: ConversationRef, message: OutgoingMessage) -> MessageHandle:
        """Post through the delivery of `ref`'s platform (scheduled messages use this)."""
        delivery = self._deliveries.get(ref.platform)
        if delivery is None:
            raise LookupError(f"no delivery attached for platform {ref.platform!r}")
        return await delivery.post(ref, message)

    # --- ToolHost: the turn side ----------------------------------------------------------------
    def specs(self, ref: ConversationRef) -> Sequence[ToolSpec]:
        return self.registry.specs()

    def status_text(self, calls: Sequence[ToolCall]) -> str:
        return status_text(self.registry, calls)

    async def handle_calls(
        self, turn: TurnContext, calls: Sequence[ToolCall], delivery: CardDelivery
    ) -> ToolOutcome:
        self.attach(turn.ref.platform, delivery)
        if turn.step > self.limits.max_steps:
            note = (
                f"refused: this turn reached its limit of {self.limits.max_steps} tool steps. "
                "Answer with what you have."
            )
            return ToolResults(messages=tuple(error_message(c, note) for c in calls))
        known: dict[str, ChatMessage] = {}
        now_runs: list[CheckedCall] = []
        waits: list[CheckedCall] = []
        for call in calls:
            checked = self.registry.check(call)
            if isinstance(checked, ChatMessage):
                known[call.id] = checked
            else:
                (waits if checked.risk.needs_approval else now_runs).append(checked)
        remaining = self.runner.remaining(turn.turn_id)
        outputs = await asyncio.gather(
            *(
                self.runner.execute(
                    c,
                    self.runner.context(turn.ref, turn.author, c.call.id, turn.turn_id),
                    remaining,
                )
                for c in now_runs
            )
        )
        for checked, (message, _) in zip(now_runs, outputs, strict=True):
            known[checked.call.id] = message
        if not waits:
            return ToolResults(messages=tuple(known[c.id] for c in calls))
        return await self._pause(turn, calls, known, waits, delivery)

    async def _pause(
        self,
        turn: TurnContext,
        calls: Sequence[ToolCall],
        known: Mapping[str, ChatMessage],
        waits: Sequence[CheckedCall],
        delivery: CardDelivery,
    ) -> Paused:
        now = self.wall.now()
        reason = (
            turn.messages[-1].content
            if turn.messages and turn.messages[-1].role == "assistant"
            else ""
        )
        requester = turn.author.qualified_id(turn.ref.platform)
        requests = [
            ApprovalRequest(
                id=new_approval_id(),
                tool_call_id=c.call.id,
                turn_id=turn.turn_id,
                tool=c.tool.name,
                args_preview=args_preview(c.call.arguments),
                args_hash=args_hash(c.call.arguments),
                reason=reason.strip(),
                requested_by=requester,
                requester_name=turn.author.display_name or turn.author.id,
                ref=turn.ref,
                created_at=now,
                expires_at=now + timedelta(seconds=self.limits.approval_timeout_s),
            )
            for c in waits
        ]
        paused = PausedTurn(
            turn_id=turn.turn_id,
            ref=turn.ref,
            author=turn.author,
            step=turn.step,
            messages=turn.messages,
            done=tuple(known[c.id] for c in calls if c.id in known),
            created_at=now,
        )
        await self.store.save_paused(paused, requests)  # durable before any card exists
        for req in requests:
            await self._audit(req, "requested", requester)
            try:
                handle = await delivery.post(req.ref, approval_card(req))
                await self.store.set_card(req.id, handle.message_id)
            except Exception:
                log.exception(
                    "approval card not delivered; /approve still works", approval_id=req.id
                )
            self._arm(req)
        names = ", ".join(dict.fromkeys(r.tool for r in requests))
        return Paused(notice=f"Waiting for approval to run {names}…")

    # --- ToolHost: the person side --------------------------------------------------------------
    async def on_click(self, click: ActionClick) -> Decision:
        """An Approve/Deny click (already deduped): decided now, carried out when queued."""
        result, won = await self.judge(click.value, click.action_id, click.author, click.ref)
        if won is None:
            return Decision(result=result)
        return Decision(result=result, then=partial(self.carry_out, won))

    async def on_command(
        self, command: Command, action: str, approval_id: str, delivery: CardDelivery
    ) -> None:
        """Typed `approve <id>` / `deny <id>` (platforms and the console without buttons)."""
        self.attach(command.ref.platform, delivery)
        result, won = await self.judge(approval_id, action, command.author, command.ref)
        if result.private is not None:
            await delivery.tell(command, result.private)
        if won is not None:
            await self._edit_card(won)
            await self.carry_out(won)

    async def judge(
        self, approval_id: str, action: str, author: Author, ref: ConversationRef
    ) -> tuple[ActionResult, ApprovalRequest | None]:
        """Apply one person's decision now: what they see, and the request if theirs won.
        Every refusal is private to them and changes nothing."""
        if action not in ACTIONS:
            return _private(f"Unknown action {action!r}."), None
        req = await self.store.get(approval_id.strip())
        if req is None:
            return _private(f"There is no approval request `{approval_id}`."), None
        who = author.qualified_id(ref.platform)
        tool = self.registry.get(req.tool)
        policy = tool.approvers if tool else ApproverPolicy()  # a tool since removed: the default
        if not policy.allows(who, requested_by=req.requested_by, admins=self.limits.admins):
            await self._audit(req, "refused", who, "not allowed to decide")
            name = req.requester_name or req.requested_by
            return _private(f"You can't approve this: only {name} or an admin can decide."), None
        if req.status is not ApprovalStatus.PENDING:
            return _private(_already(req)), None
        now = self.wall.now()
        if req.expires_at <= now:
            await self._expire(req.id)
            return _private("This request expired — the tool was not run."), None
        status = ACTIONS[action]
        won = await self.store.decide(
            req.id, status, decided_by=who, decided_by_name=author.display_name or author.id, at=now
        )
        if not won:
            latest = await self.store.get(req.id)
            return _private(_already(latest or req)), None
        self._disarm(req.id)
        req = await self._reload(req.id)
        await self._audit(req, status.value, who)
        metrics.APPROVALS.labels(status.value).inc()
        return ActionResult(update=decided_card(req)), req

    async def carry_out(self, req: ApprovalRequest) -> None:
        """The slow part of a decision that won: run the tool once if approved, store the
        outcome, resume the turn when all its requests are final."""
        if req.status is ApprovalStatus.APPROVED:
            message, result = await self.runner.run_approved(req)
        else:
            result = "declined"
            message = (
                f"{req.decided_by_name or req.decided_by} declined this call of {req.tool}; it was "
                "not run. Continue without it."
            )
        await self._finish(req, result, message)

    # --- expiry -----------------------------------------------------------------------------
    def _arm(self, req: ApprovalRequest) -> None:
        if req.id in self._timers:
            return
        task = asyncio.create_task(self._expire_at(req))
        self._timers[req.id] = task
        task.add_done_callback(partial(self._forget_timer, req.id))

    def _forget_timer(self, approval_id: str, task: asyncio.Task[None]) -> None:
        if self._timers.get(approval_id) is task:
            del self._timers[approval_id]

    def _disarm(self, approval_id: str) -> None:
        task = self._timers.pop(approval_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _expire_at(self, req: ApprovalRequest) -> None:
        await self.wall.sleep_until(req.expires_at)
        try:
            await self._expire(req.id)
        except Exception:
            log.exception("expiring an approval failed", approval_id=req.id)

    async def _expire(self, approval_id: str) -> None:
        now = self.wall.now()
        if not await self.store.decide(
            approval_id, ApprovalStatus.EXPIRED, decided_by=SYSTEM_DECIDER, at=now
        ):
            return
        self._disarm(approval_id)
        req = await self._reload(approval_id)
        await self._edit_card(req)
        await self._audit(req, "expired", SYSTEM_DECIDER)
        metrics.APPROVALS.labels("expired").inc()
        await self._finish(
            req,
            "expired",
            f"Nobody approved this call of {req.tool} in time; it "
            "expired and was not run. Continue without it.",
        )

    async def _recover(self, turn_id: str, now: datetime) -> None:
        """Finish what a crash interrupted: a decision without its outcome (after a grace period,
        in case another worker is still running it), then a turn whose requests are all final."""
        for req in await self.store.turn_approvals(turn_id):
            tool = self.registry.get(req.tool)
            grace = timedelta(seconds=(tool.timeout_s if tool else 60.0) + RECOVERY_GRACE_S)
            if req.finished or req.decided_at is None or now - req.decided_at < grace:
                continue
            if req.status is ApprovalStatus.APPROVED:
                await self._finish(
                    req,
                    "interrupted",
                    f"The approved call of {req.tool} was "
                    "interrupted by a restart; it may or may not have completed. "
                    "Tell the user to check before retrying.",
                )
            else:
                await self._finish(
                    req,
                    req.status.value,
                    f"This call of {req.tool} was "
                    f"{req.status.value} and not run. Continue without it.",
                )
        await self._maybe_resume(turn_id)

    # --- resuming -----------------------------------------------------------------------------
    async def _finish(self, req: ApprovalRequest, result: str, output: str) -> None:
        await self.store.finish(req.id, result=result, output=output)
        await self._audit(req, "result", req.decided_by or SYSTEM_DECIDER, result)
        await self._maybe_resume(req.turn_id)

    async def _maybe_resume(self, turn_id: str) -> None:
        turn = await self.store.paused_turn(turn_id)
        approvals = await self.store.turn_approvals(turn_id)
        if turn is None or not all(a.finished for a in approvals):
            return
        if not await self.store.claim_resume(turn_id):
            return
        self.runner.forget(turn_id)
        try:
            await self.resumer.resume(
                turn.ref,
                turn.author,
                [*turn.messages, *_results(turn, approvals)],
                turn_id=turn.turn_id,
                step=turn.step,
            )
        except Exception:
            log.exception("resuming the turn failed", turn_id=turn_id)

    # --- helpers ----------------------------------------------------------------------------
    async def _reload(self, approval_id: str) -> ApprovalRequest:
        req = await self.store.get(approval_id)
        assert req is not None, approval_id
        return req

    async def _edit_card(self, req: ApprovalRequest) -> None:
        delivery = self._deliveries.get(req.ref.platform)
        if delivery is None or not req.card_message_id:
            return
        try:
            handle = MessageHandle(ref=req.ref, message_id=req.card_message_id)
            await delivery.update(handle, decided_card(req))
        except Exception:
            log.exception("could not edit the approval card", approval_id=req.id)

    async def _audit(self, req: ApprovalRequest, event: str, actor: str, detail: str = "") -> None:
        await self.store.add_audit(
            AuditEntry(
                approval_id=req.id,
                event=event,
                tool=req.tool,
                requested_by=req.requested_by,
                args_hash=req.args_hash,
                actor=actor,
                at=self.wall.now(),
                detail=detail,
            )
        )
        log.info(
            "approval",
            approval_id=req.id,
            approval_event=event,
            tool=req.tool,
            actor=actor,
            args_hash=req.args_hash[:16],
            detail=detail,
        )


def _results(turn: PausedTurn, approvals: Sequence[ApprovalRequest]) -> list[ChatMessage]:
    """The step's tool messages in the order the model asked for the calls."""
    outputs = {a.tool_call_id: a for a in approvals}
    done = {m.tool_call_id: m for m in turn.done}
    results: list[ChatMessage] = []
    for call in turn.messages[-1].tool_calls:
        if call.id in done:
            results.append(done[call.id])
        elif call.id in outputs:
            results.append(tool_message(call, outputs[call.id].output or ""))
    return results


def _private(text: str) -> ActionResult:
    return ActionResult(private=OutgoingMessage.text(text))


def _already(req: ApprovalRequest) -> str:
    if req.status is ApprovalStatus.EXPIRED:
        return "This request already expired — the tool was not run."
    who = req.decided_by_name or req.decided_by or "someone"
    return f"This request was already {req.status.value} by {who}."
