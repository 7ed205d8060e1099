"""Durable approvals: pause → persist → resume, keyed by the tool call id.

How this works
--------------
When the model asks for a call that needs approval, the host stores, in one step and *before* any
card is posted, a `PausedTurn` (the turn's messages up to the assistant message with the calls, the
tool messages already known for the other calls of that step, the step and the author) and one
`ApprovalRequest` per call needing approval. Only then does it post a card whose buttons carry the
request's short opaque id — all the state a button needs, so cards survive restarts.

An approval moves once, from `pending` to one of three final states:

    pending ──approve (allowed person, before expiry)──► approved ──run once──► result stored
        ├────deny (allowed person, before expiry)─────► denied
        └────expiry timer / start-up sweep / late click► expired   (= denied, never run)

`ApprovalStore.decide` is a conditional update (`… WHERE id = ? AND status = 'pending'`, plus
`expires_at > now` for approve/deny): of any number of double clicks, replays, typed commands or
workers racing, exactly one wins; only the winner edits the card and runs the tool. A person not
allowed to decide changes nothing (they get a private refusal).

When a request reaches a final state, its tool message (the result, "declined" or "expired") is
stored on it. When every request of the turn has one, `claim_resume` flips the turn from `paused`
to `resumed` (again conditionally, so the turn resumes exactly once), and the conversation core
continues from the stored messages plus the tool messages in the order the model asked for them.
Every request, decision, refusal and result is appended to the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.llm.types import ChatMessage
from bot.refs import Author, ConversationRef

SYSTEM_DECIDER = "system"
"""`decided_by` of requests that expired."""


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class TurnStatus(StrEnum):
    PAUSED = "paused"
    RESUMED = "resumed"


def new_approval_id() -> str:
    """16 hex characters: short enough to type after `/approve`, unguessable enough to be a key."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequest:
    id: str
    """Short opaque id (≤ 32 chars); the only state a button carries."""
    tool_call_id: str
    turn_id: str
    tool: str
    args_preview: str
    """Redacted, truncated JSON of the arguments (see `bot.tools.redact`)."""
    args_hash: str
    """sha256 of the full canonical arguments."""
    reason: str
    """The model's stated reason (the assistant text before the call), possibly empty."""
    requested_by: str
    """`platform:user_id` of the person whose message started the turn."""
    requester_name: str = ""
    ref: ConversationRef
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_by: str | None = None
    """`platform:user_id`, or `system` for an expiry."""
    decided_by_name: str = ""
    decided_at: datetime | None = None
    result: str | None = None
    """Short audit summary of what happened: "ok (120 chars)", "error: …", "declined", "expired"."""
    output: str | None = None
    """The tool message content the model gets for this call; set once the request is final."""
    card_message_id: str | None = None
    """Platform id of the card, so it can be edited after the decision (also after a restart)."""

    @property
    def finished(self) -> bool:
        return self.output is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class PausedTurn:
    turn_id: str
    ref: ConversationRef
    author: Author
    step: int
    messages: tuple[ChatMessage, ...]
    """The model conversation, ending with the assistant message that holds the calls."""
    done: tuple[ChatMessage, ...] = ()
    """Tool messages already known for this step (read tools run at once, refused calls)."""
    created_at: datetime
    status: TurnStatus = TurnStatus.PAUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    approval_id: str
    event: str
    """"requested", "approved", "denied", "expired", "refused" (a non-approver) or "result"."""
    tool: str
    requested_by: str
    args_hash: str
    actor: str
    """Who caused the event (`platform:user_id` or `system`)."""
    at: datetime
    detail: str = ""
    """For "result": the result summary; for "refused": why."""


class ApprovalStore(Protocol):
    """Persistence of paused turns, approvals and their audit log (SQL: `storage.approvals`)."""

    async def save_paused(self, turn: PausedTurn, approvals: Sequence[ApprovalRequest]) -> None:
        """Store the turn and its requests together (one transaction)."""

    async def set_card(self, approval_id: str, message_id: str) -> None: ...

    async def get(self, approval_id: str) -> ApprovalRequest | None: ...

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        decided_by: str,
        decided_by_name: str = "",
        at: datetime,
    ) -> bool:
        """Move a *pending* request to `status`; True only for the one caller that did.
        Approve/deny also require `expires_at > at`; expire requires `expires_at <= at`."""

    async def finish(self, approval_id: str, *, result: str, output: str) -> None:
        """Record the outcome and the tool message for a decided request."""

    async def paused_turn(self, turn_id: str) -> PausedTurn | None: ...

    async def turn_approvals(self, turn_id: str) -> list[ApprovalRequest]: ...

    async def claim_resume(self, turn_id: str) -> bool:
        """Move the turn from paused to resumed; True only for the one caller that did."""

    async def pending(self) -> list[ApprovalRequest]:
        """Every request still pending (for expiry timers and the start-up sweep)."""

    async def paused_turns(self) -> list[str]:
        """Ids of turns still paused (the start-up sweep finishes interrupted ones)."""

    async def add_audit(self, entry: AuditEntry) -> None: ...

    async def audit_log(self, approval_id: str | None = None) -> list[AuditEntry]:
        """Oldest first; all entries, or one request's."""
