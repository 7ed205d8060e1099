"""Quota settings as values: request rates ("30/hour") and the limits of one workspace.

QUOTA_* settings give the defaults; QUOTA_OVERRIDES (JSON) replaces any of them for one
workspace (`"slack:T0123"`) or a whole platform (`"discord:*"`). 0 or "" means no limit.
Parsed once at start-up (`bot.settings` validates through `parse_rate` and `parse_overrides`),
so a typo fails the start with the variable's name, not the first question of the day.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_RATE = re.compile(r"\s*(\d+)\s*/\s*(minute|hour|day)\s*", re.IGNORECASE)
WINDOWS = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate:
    calls: int
    per: str
    """"minute", "hour" or "day"."""

    @property
    def window_s(self) -> float:
        return WINDOWS[self.per]

    def __str__(self) -> str:
        return f"{self.calls} per {self.per}"


def parse_rate(text: str) -> Rate | None:
    """ "30/hour" → Rate; "" or "0/…" → None (no limit); anything else → ValueError."""
    if not text.strip():
        return None
    match = _RATE.fullmatch(text)
    if match is None:
        raise ValueError(f"a rate looks like 30/hour, 10/minute or 500/day (got {text!r})")
    calls = int(match.group(1))
    return Rate(calls=calls, per=match.group(2).lower()) if calls else None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaLimits:
    """The limits of one workspace; None or 0 means no limit."""

    user_requests: Rate | None = None
    channel_requests: Rate | None = None
    user_tokens_per_day: int = 0
    channel_tokens_per_day: int = 0
    concurrent_per_user: int = 0

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) for f in dataclasses.fields(self))


_FIELDS = {f.name for f in dataclasses.fields(QuotaLimits)}
_KEY = re.compile(r"[a-z]+:[^\s]+")


def apply(limits: QuotaLimits, changes: Mapping[str, Any]) -> QuotaLimits:
    """`limits` with the fields named in `changes` replaced (rates given as text)."""
    unknown = sorted(set(changes) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown quota field(s) {unknown}; known: {sorted(_FIELDS)}")
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name.endswith("_requests"):
            values[name] = parse_rate(str(value or ""))
        else:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number ≥ 0 (got {value!r})")
            values[name] = value
    return dataclasses.replace(limits, **values)


def parse_overrides(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check QUOTA_OVERRIDES: `{"platform:workspace_id" or "platform:*": {field: value}}`."""
    checked: dict[str, dict[str, Any]] = {}
    for key, changes in raw.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f'keys look like "slack:T0123" or "discord:*" (got {key!r})')
        if not isinstance(changes, Mapping):
            raise ValueError(f"{key}: expected an object of quota fields (got {changes!r})")
        apply(QuotaLimits(), changes)  # raises on a bad field or value
        checked[key] = dict(changes)
    return checked
