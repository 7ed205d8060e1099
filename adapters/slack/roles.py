"""Slack workspace roles (`bot.adapter.RoleDirectory`): admins, owners and the primary owner
count as admins, read from `users.info` (`user.is_admin`, `is_owner`, `is_primary_owner`).

Answers are cached per workspace and user (`bot.core.role_cache`). `user_not_found` (and a
deactivated user) is a firm "no" and is cached; any other failure (429 with Retry-After, a
network error) is raised, so `bot.core.access` refuses and logs it and the next command asks
again.
"""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call
from bot.clock import Clock
from bot.core.role_cache import RoleCache
from bot.errors import PlatformError
from bot.refs import ConversationRef

NOT_A_USER = frozenset({"user_not_found", "user_not_visible"})
ADMIN_FLAGS = ("is_admin", "is_owner", "is_primary_owner")


class SlackRoles:
    def __init__(self, client: AsyncWebClient, *, clock: Clock | None = None) -> None:
        self._client = client
        self.cache = RoleCache(clock=clock)

    async def is_platform_admin(self, ref: ConversationRef, user_id: str) -> bool:
        key = (ref.workspace_id, user_id)
        known = self.cache.get(key)
        if known is not None:
            return known
        try:
            data = await call("users.info", self._client.users_info(user=user_id))
        except PlatformError as exc:
            if exc.code not in NOT_A_USER:
                raise
            admin = False
        else:
            user = data.get("user") or {}
            admin = not user.get("deleted") and any(bool(user.get(f)) for f in ADMIN_FLAGS)
        self.cache.put(key, admin)
        return admin
