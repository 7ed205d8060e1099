"""Who may do what: admins from ADMIN_USERS (`platform:user_id`); the local console operator is
always an admin."""

from __future__ import annotations

from collections.abc import Iterable

from bot.refs import Author, ConversationRef


class Access:
    def __init__(self, admins: Iterable[str]) -> None:
        self._admins = frozenset(admins)

    def is_admin(self, ref: ConversationRef, author: Author) -> bool:
        return ref.platform == "console" or author.qualified_id(ref.platform) in self._admins
