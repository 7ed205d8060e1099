"""The storage fixtures (each test on SQLite and on a throw-away PostgreSQL)."""

from tests.storage.conftest import db_url, ref, store

__all__ = ["db_url", "ref", "store"]
