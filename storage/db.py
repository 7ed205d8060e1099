"""Async engine creation for the two supported backends.

SQLite (aiosqlite): the file's directory is created; every connection gets WAL journaling (readers
never block the writer), `busy_timeout` (a second process waits for the write lock instead of
failing at once) and enforced foreign keys. Python's sqlite3 (before 3.12's `autocommit`) issues
no BEGIN before SELECT or DDL, which breaks transactional DDL; so the driver's own transaction
handling is turned off and SQLAlchemy emits BEGIN itself. A connection with the execution option
`sqlite_begin="IMMEDIATE"` takes the write lock at BEGIN: migrations and the store's writes use
it, so two processes serialize on the lock instead of failing to upgrade a read lock.

Every aiosqlite call is a hop to the driver's thread and back, and SQLAlchemy's cursor makes three
per statement (open, execute, close), so the per-transaction overhead is trimmed: BEGIN is sent
straight to the driver in one hop (errors still surface as SQLAlchemy's `DBAPIError`s), and the
pool's rollback-on-return, a wasted hop after every COMMIT, rolls back only a connection whose
transaction really is still open.

PostgreSQL (psycopg 3, async): a plain pooled engine with pre-ping.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlalchemy.util import await_

BUSY_TIMEOUT_MS = 30_000
WAL_SWITCH_ATTEMPTS = 100
SQLITE_BEGIN = "sqlite_begin"
"""Execution option: "DEFERRED" (default) or "IMMEDIATE"."""
_BEGIN_MODES = frozenset({"DEFERRED", "IMMEDIATE", "EXCLUSIVE"})


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for `url` (`sqlite+aiosqlite:///…` or `postgresql+psycopg://…`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _ensure_parent_dir(parsed.database)
        kwargs.setdefault("pool_reset_on_return", None)  # see _on_reset
        engine = create_async_engine(parsed, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    if backend == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(parsed, **kwargs)
    raise ValueError(
        f"unsupported database backend {backend!r}: DATABASE_URL must be a postgresql:// URL "
        "(or unset for SQLite under DATA_DIR)"
    )


def _ensure_parent_dir(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _switch_to_wal(cursor: Any) -> None:
    """Put the database in WAL mode. Once any connection has done so it stays so, and asking
    again is skipped; the switch itself can fail at once with "database is locked" (SQLite does
    not always run the busy handler for it) while another engine is migrating the same new file,
    so it is retried for a few seconds. Runs only when a pooled connection is first opened."""
    cursor.execute("PRAGMA journal_mode")
    if str(cursor.fetchone()[0]).lower() == "wal":
        return
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, see _on_begin
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")).upper()
        if mode not in _BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN} must be one of {sorted(_BEGIN_MODES)}, not {mode!r}")
        _execute_bare(conn, f"BEGIN {mode}")

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # Replaces the pool's unconditional rollback-on-return (pool_reset_on_return=None).
        if not state.asyncio_safe:
            return  # as the pool's own reset: no driver calls outside the event loop's greenlet
        driver = getattr(dbapi_connection, "driver_connection", None)
        if not isinstance(driver, aiosqlite.Connection) or driver.in_transaction:
            dbapi_connection.rollback()


def _execute_bare(conn: Connection, sql: str) -> None:
    """Run a parameterless, row-less statement in one trip to aiosqlite's thread (SQLAlchemy's
    cursor makes three: open, execute, close; every transaction begins with one)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, aiosqlite.Connection):
        conn.exec_driver_sql(sql)
        return
    try:
        # execute_fetchall's cursor is used up and dropped in the driver's thread.
        await_(driver.execute_fetchall(sql))
    except sqlite3.Error as error:
        raise exc.DBAPIError.instance(sql, (), error, sqlite3.Error) from error


class Database:
    """An engine plus the way to write to it: `async with db.write() as conn` is one transaction
    that holds the write lock from its start (BEGIN IMMEDIATE on SQLite). SQLite has one writer
    at a time, so this process's writers also queue on an asyncio.Lock rather than in SQLite's
    sleeping busy handler; other processes still wait on busy_timeout."""

    def __init__(self, engine: AsyncEngine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {name!r}")
        self.engine = engine
        self.insert = sqlite.insert if name == "sqlite" else postgresql.insert
        """The dialect's INSERT, which has `on_conflict_do_nothing`."""
        self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._lock: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if name == "sqlite" else nullcontext()
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self._lock, self._writer.begin() as conn:
            yield conn
