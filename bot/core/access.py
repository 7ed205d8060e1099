"""Who may do what. An admin is named in ADMIN_USERS (`platform:user_id`), or is one by the
platform's own roles when its adapter is a `bot.adapter.RoleDirectory`; the local console
operator is always an admin. A directory that fails answers "not an admin": a refusal the user
is told about, never a privilege granted by an outage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.adapter import RoleDirectory
from bot.logs import get_logger
from bot.refs import Author, ConversationRef

log = get_logger(__name__)


class Access:
    def __init__(
        self, admins: Iterable[str], directories: Mapping[str, RoleDirectory] | None = None
    ) -> None:
        self._admins = frozenset(admins)
        self._directories = dict(directories or {})

    async def is_admin(self, ref: ConversationRef, author: Author) -> bool:
        if ref.platform == "console" or author.qualified_id(ref.platform) in self._admins:
            return True
        directory = self._directories.get(ref.platform)
        if directory is None:
            return False
        try:
            return await directory.is_platform_admin(ref, author.id)
        except Exception as exc:
            log.warning("admin role lookup failed", platform=ref.platform, error=str(exc))
            return False
