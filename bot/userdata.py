"""What the core needs from storage to export or forget one person (`forget-me`, `export-me`);
`storage.privacy.SqlPrivacy` is the implementation and its docstring says whose rows are whose."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class ForgetReport:
    pseudonym: str
    """What now stands for them in the rows that only named them ("forgotten-…")."""
    messages: int
    """Their messages and the answers to them, deleted."""
    summaries: int
    """Conversation summaries built from those messages, dropped."""
    conversations: int
    """Direct conversations left empty, deleted."""
    anonymized: int
    """Usage, approval and audit rows whose name was replaced."""


class UserData(Protocol):
    async def export(self, platform: str, user_id: str) -> dict[str, Any]:
        """Every stored row about the person, by table, JSON-ready."""

    async def forget(self, platform: str, user_id: str) -> ForgetReport: ...

    async def pending_approvals(self, platform: str, user_id: str) -> list[str]:
        """Approvals still waiting on a turn of theirs (forgetting waits for them)."""
