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

import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import PoolResetState
from sqlalchemy.util import await_

from storage.writelock import WriteLock

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
    """An engine plus the two ways to write to it.

    `async with db.write() as conn` is one transaction that holds the write lock from its start
    (BEGIN IMMEDIATE on SQLite). SQLite has one writer at a time, so this process's writers also
    queue on a `WriteLock` rather than in SQLite's sleeping busy handler (other processes still
    wait on busy_timeout).

    `await db.write_now(sql, params)` is for the one write a user is waiting on before they see
    anything (claiming an event): one statement, committed on its own, in one trip to the
    database, on a connection of its own. On SQLite it goes ahead of queued writers, on a raw
    autocommit driver connection (a SQLAlchemy transaction is six or more hops to aiosqlite's
    thread, each waiting for a busy event loop) that never runs a WAL checkpoint (the engine's
    connections do). On PostgreSQL it skips the wait for the WAL flush (`synchronous_commit =
    off`): the next ordinary commit, the turn's own first write, flushes it, so only a database
    crash within a fraction of a second can forget it (and at worst an event is answered twice).
    SQLite's `synchronous = NORMAL` makes the same trade for every commit."""

    def __init__(self, engine: AsyncEngine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {name!r}")
        self.engine = engine
        self.is_sqlite = name == "sqlite"
        self.insert = sqlite.insert if self.is_sqlite else postgresql.insert
        """The dialect's INSERT, which has `on_conflict_do_nothing`."""
        self._writer = engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        self._lock = WriteLock()
        self._driver: aiosqlite.Connection | None = None
        self._now_engine: AsyncEngine | None = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with (
            self._lock.hold() if self.is_sqlite else nullcontext(),
            self._writer.begin() as conn,
        ):
            yield conn

    async def write_now(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement (driver-level SQL with `:name` parameters) as described above and
        return its rows."""
        if not self.is_sqlite:
            return await self._postgres_now(sql, params)
        async with self._lock.hold(urgent=True):
            driver = self._driver or await self._open_driver()
            try:
                return [tuple(row) for row in await driver.execute_fetchall(sql, params)]
            except sqlite3.Error as error:
                raise exc.DBAPIError.instance(sql, params, error, sqlite3.Error) from error

    async def _postgres_now(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        if self._now_engine is None:
            self._now_engine = create_async_engine(
                self.engine.url,
                pool_size=1,
                max_overflow=0,
                isolation_level="AUTOCOMMIT",
                connect_args={"options": "-c synchronous_commit=off"},
            )
        statement = text(sql)
        for attempt in (1, 2):
            try:
                async with self._now_engine.connect() as conn:
                    return [tuple(row) for row in await conn.execute(statement, params)]
            except exc.DBAPIError as error:
                # No pre-ping (a round trip per claim): a connection the server dropped fails
                # once, is invalidated by SQLAlchemy, and the statement runs again on a new one.
                if not error.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _open_driver(self) -> aiosqlite.Connection:
        database = self.engine.url.database
        if not database or database == ":memory:":
            raise RuntimeError("write_now needs a SQLite database file")
        driver = await aiosqlite.connect(database, isolation_level=None)  # autocommit
        await driver.executescript(
            f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA synchronous = NORMAL;"
            " PRAGMA wal_autocheckpoint = 0;"
        )
        self._driver = driver
        return driver

    async def close(self) -> None:
        """Close every connection. The database is unusable afterwards."""
        if self._driver is not None:
            await self._driver.close()
            self._driver = None
        if self._now_engine is not None:
            await self._now_engine.dispose()
        await self.engine.dispose()
