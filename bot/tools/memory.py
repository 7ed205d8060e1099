"""An in-process `ApprovalStore` for tests and for running without a database.

It keeps the store's contract, including the conditional decide, using plain dict updates with
no await between read and write (atomic under asyncio)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.tools.approvals import (
    ApprovalRequest,
    ApprovalStatus,
    AuditEntry,
    PausedTurn,
    TurnStatus,
)


class MemoryApprovalStore:
    def __init__(self) -> None:
        self.turns: dict[str, PausedTurn] = {}
        self.approvals: dict[str, ApprovalRequest] = {}
        self.audit: list[AuditEntry] = []

    async def save_paused(self, turn: PausedTurn, approvals: Sequence[ApprovalRequest]) -> None:
        if turn.turn_id in self.turns or any(a.id in self.approvals for a in approvals):
            raise ValueError(f"turn {turn.turn_id} or one of its approvals is already stored")
        self.turns[turn.turn_id] = turn
        for approval in approvals:
            self.approvals[approval.id] = approval

    async def set_card(self, approval_id: str, message_id: str) -> None:
        self.approvals[approval_id] = replace(
            self.approvals[approval_id], card_message_id=message_id
        )

    async def get(self, approval_id: str) -> ApprovalRequest | None:
        return self.approvals.get(approval_id)

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        decided_by: str,
        decided_by_name: str = "",
        at: datetime,
    ) -> bool:
        current = self.approvals.get(approval_id)
        if current is None or current.status is not ApprovalStatus.PENDING:
            return False
        in_time = current.expires_at > at
        if in_time != (status is not ApprovalStatus.EXPIRED):
            return False
        self.approvals[approval_id] = replace(
            current,
            status=status,
            decided_by=decided_by,
            decided_by_name=decided_by_name,
            decided_at=at,
        )
        return True

    async def finish(self, approval_id: str, *, result: str, output: str) -> None:
        self.approvals[approval_id] = replace(
            self.approvals[approval_id], result=result, output=output
        )

    async def paused_turn(self, turn_id: str) -> PausedTurn | None:
        return self.turns.get(turn_id)

    async def turn_approvals(self, turn_id: str) -> list[ApprovalRequest]:
        return [a for a in self.approvals.values() if a.turn_id == turn_id]

    async def claim_resume(self, turn_id: str) -> bool:
        turn = self.turns.get(turn_id)
        if turn is None or turn.status is not TurnStatus.PAUSED:
            return False
        self.turns[turn_id] = replace(turn, status=TurnStatus.RESUMED)
        return True

    async def pending(self) -> list[ApprovalRequest]:
        return [a for a in self.approvals.values() if a.status is ApprovalStatus.PENDING]

    async def paused_turns(self) -> list[str]:
        return [t.turn_id for t in self.turns.values() if t.status is TurnStatus.PAUSED]

    async def add_audit(self, entry: AuditEntry) -> None:
        self.audit.append(entry)

    async def audit_log(self, approval_id: str | None = None) -> list[AuditEntry]:
        return [e for e in self.audit if approval_id is None or e.approval_id == approval_id]
