"""Engine creation: SQLite pragmas and directory, PostgreSQL URL handling, loud bad URLs."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.settings import Settings
from storage.db import BUSY_TIMEOUT_MS, SQLITE_BEGIN, create_engine


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
