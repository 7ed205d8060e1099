"""`RoleCache`: recent answers of a platform's role lookup (is this user an admin?), per key,
for `ttl_s` on the injected clock, at most `capacity` keys (the least recently used go).

Role lookups are one Web API call each (Slack users.info, Discord guild member); admin commands
are rare but a quota refusal asks too, so a short-lived answer saves calls without keeping a
demoted admin's rights for long. Failures are never cached: the next command asks again.
"""

from __future__ import annotations

from collections.abc import Hashable

from bot.clock import Clock, MonotonicClock
from bot.core.lru import Lru

DEFAULT_TTL_S = 300.0
DEFAULT_CAPACITY = 10_000


class RoleCache:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self._clock = clock or MonotonicClock()
        self._ttl_s = ttl_s
        self._entries: Lru[Hashable, tuple[bool, float]] = Lru(capacity)

    def get(self, key: Hashable) -> bool | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock.now():
            return None
        return entry[0]

    def put(self, key: Hashable, is_admin: bool) -> None:
        self._entries.put(key, (is_admin, self._clock.now() + self._ttl_s))

    def __len__(self) -> int:
        return len(self._entries)
