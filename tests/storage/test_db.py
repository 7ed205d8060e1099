"""Engine creation: SQLite pragmas and directory, PostgreSQL URL handling, loud bad URLs."""

from __future__ import annotations

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.settings import Settings
from storage import open_store
from storage.db import BUSY_TIMEOUT_MS, SQLITE_BEGIN, Database, create_engine
from tests.storage.conftest import empty_database


async def test_sqlite_engine_creates_the_data_dir_and_sets_pragmas(tmp_path) -> None:
    data_dir = tmp_path / "does" / "not" / "exist"
    engine = create_engine(Settings(data_dir=data_dir).sqlalchemy_url)
    try:
        assert data_dir.is_dir()
        async with engine.connect() as conn:
            pragmas = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert pragmas == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": BUSY_TIMEOUT_MS,
            "synchronous": 1,  # NORMAL: safe with WAL, no fsync per commit
        }
    finally:
        await engine.dispose()


async def test_sqlite_transactions_really_begin(tmp_path) -> None:
    """SQLAlchemy, not the sqlite3 driver, emits BEGIN, so DDL and reads are transactional."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        async with engine.connect() as conn:
            async with conn.begin() as tx:
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
                await tx.rollback()
            rows = await conn.execute(text("SELECT name FROM sqlite_master WHERE name = 't'"))
            assert rows.first() is None
            await conn.rollback()
            await conn.execution_options(**{SQLITE_BEGIN: "bogus"})
            with pytest.raises(ValueError, match="sqlite_begin"):
                await conn.begin()
    finally:
        await engine.dispose()


async def test_memory_database_needs_no_directory() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


def test_postgres_url_from_settings_uses_psycopg() -> None:
    url = Settings(database_url="postgres://u:p@db.example/parley").sqlalchemy_url
    engine = create_engine(url)  # no connection is made until first use
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    engine.sync_engine.dispose()


def test_unsupported_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        create_engine("mysql+aiomysql://u:p@localhost/db")


async def test_sqlite_begin_errors_are_sqlalchemy_errors(tmp_path) -> None:
    """BEGIN goes straight to the driver (one trip), yet fails like any other statement."""
    url = f"sqlite+aiosqlite:///{tmp_path}/t.db"
    holder, waiter = Database(create_engine(url)), create_engine(url)
    try:
        async with holder.write() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with waiter.connect() as conn:
            await conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            await conn.commit()
            await conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            async with holder.write():
                with pytest.raises(OperationalError, match="locked"):
                    await conn.begin()
    finally:
        await holder.engine.dispose()
        await waiter.dispose()


async def test_sqlite_pool_rolls_back_only_open_transactions(tmp_path) -> None:
    """The pool's rollback-on-return is replaced by one that skips connections already
    committed or rolled back, but still ends a transaction left open underneath SQLAlchemy."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db", pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
        assert isinstance(raw, aiosqlite.Connection)
        driver: aiosqlite.Connection = raw  # stays narrowed through the `is` check below
        rollbacks = 0
        rollback = driver.rollback

        async def counted_rollback() -> None:
            nonlocal rollbacks
            rollbacks += 1
            await rollback()

        driver.rollback = counted_rollback  # type: ignore[method-assign]
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        assert (rollbacks, driver.in_transaction) == (0, False)  # committed: nothing to undo
        async with engine.connect() as conn:
            assert (await conn.get_raw_connection()).driver_connection is driver
            await driver.execute("BEGIN")
            await driver.execute("INSERT INTO t VALUES (1)")
        assert (rollbacks, driver.in_transaction) == (1, False)  # left open: rolled back
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        assert rollbacks == 2  # the read's own rollback, and no second one from the pool
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_postgres_claims_survive_a_dropped_connection(tmp_path) -> None:
    """Claims keep one connection without a ping per claim; when the server drops it, the next
    claim reconnects instead of failing the user's event."""
    async with empty_database("postgres", tmp_path) as url:
        store = await open_store(url)
        try:
            assert await store.claim_event("Ev1")
            async with store.engine.connect() as conn:
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            assert await store.claim_event("Ev2")
            assert await store.claim_event("Ev1") is False
        finally:
            await store.close()
