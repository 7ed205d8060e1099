"""What the usage report and the daily token budgets read from storage (`storage.usage`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageQuery:
    """Which usage records to add up; a None field does not filter."""

    since: datetime
    until: datetime | None = None
    platform: str | None = None
    workspace_id: str | None = None
    user: str | None = None
    """A user id, or a display name as recorded (case-insensitive)."""
    channel_id: str | None = None


DIMENSIONS = ("user", "channel", "model", "provider")


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageGroup:
    """Totals of the matching records that share one key of a dimension, and one model (a
    report prices records without a stored cost by their model)."""

    dimension: str
    """"user", "channel", "model" or "provider"."""
    key: str
    """`platform:user_id`, `platform:channel_id`, the model or the provider."""
    label: str
    """What a person reads: the user's display name (else id), `#channel`, model, provider."""
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """The recorded costs added up (records without one are not in it)."""
    unpriced_input_tokens: int
    """Input tokens of the records that carry no cost (older records, unpriced models)."""
    unpriced_output_tokens: int


class UsageLedger(Protocol):
    async def groups(self, query: UsageQuery, *, by: str) -> list[UsageGroup]:
        """The matching records' totals per key of dimension `by` and model."""

    async def tokens_since(
        self,
        since: datetime,
        *,
        platform: str,
        workspace_id: str,
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> int:
        """Input plus output tokens recorded since `since` for one user or one channel."""
