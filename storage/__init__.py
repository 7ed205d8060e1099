"""Storage: conversation memory, event dedupe and usage records in SQLite or PostgreSQL.

Open with `store = await open_store(settings.sqlalchemy_url)` (creates or upgrades the schema),
pass it where a `bot.ports.ConversationStore` is wanted, and `await store.close()` at shutdown.
"""

from storage.store import SqlStore, open_store

__all__ = ["SqlStore", "open_store"]
