"""The approval card and its decided forms: pure functions of an `ApprovalRequest`; and the
status a turn shows while its tools run."""

from __future__ import annotations

from collections.abc import Sequence

from bot.llm.types import ToolCall
from bot.messages import Action, ActionStyle, OutgoingMessage
from bot.tools.approvals import ApprovalRequest, ApprovalStatus
from bot.tools.registry import ToolRegistry

REASON_CHARS = 300


def _body(req: ApprovalRequest) -> list[str]:
    lines = [f"**Approval needed:** run `{req.tool}`"]
    if req.reason.strip():
        reason = " ".join(req.reason.split())
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 1] + "…"
        lines.append(f"**Why:** {reason}")
    lines.append(f"**Arguments:** `{req.args_preview.replace('`', chr(39))}`")
    who = req.requester_name or req.requested_by
    lines.append(f"Requested by {who}; expires {req.expires_at:%H:%M} UTC.")
    return lines


def approval_card(req: ApprovalRequest) -> OutgoingMessage:
    lines = _body(req)
    lines.append(f"Approval id: `{req.id}` (approve or deny with the buttons or the command).")
    return OutgoingMessage(
        text_markdown="\n".join(lines),
        actions=(
            Action(id="approve", label="Approve", value=req.id, style=ActionStyle.PRIMARY),
            Action(id="deny", label="Deny", value=req.id, style=ActionStyle.DANGER),
        ),
    )


def decided_card(req: ApprovalRequest) -> OutgoingMessage:
    """The card after the decision, without buttons."""
    who = req.decided_by_name or req.decided_by or "?"
    when = f" at {req.decided_at:%H:%M} UTC" if req.decided_at else ""
    outcome = {
        ApprovalStatus.APPROVED: f"✅ Approved by {who}{when}",
        ApprovalStatus.DENIED: f"❌ Denied by {who}{when}",
        ApprovalStatus.EXPIRED: "⌛ Expired — not run",
        ApprovalStatus.PENDING: "Pending",
    }[req.status]
    lines = _body(req)[:-1]
    lines[0] = f"**Tool:** `{req.tool}`"
    return OutgoingMessage(text_markdown="\n".join([*lines, f"**{outcome}**"]))


def status_text(registry: ToolRegistry, calls: Sequence[ToolCall]) -> str:
    """A short status shown while tools run, e.g. "Searching the knowledge base…"."""
    texts: list[str] = []
    for call in calls:
        tool = registry.get(call.name)
        text = tool.status if tool and tool.status else f"Running {call.name}…"
        if text not in texts:
            texts.append(text)
    return " ".join(texts) or "Working…"
