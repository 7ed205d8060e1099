"""Storage tests run on SQLite and, when TEST_DATABASE_URL is set (scripts/with-postgres, which
`make test` uses), also on PostgreSQL, each test in its own throw-away database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.refs import ConversationRef
from bot.settings import Settings
from storage import SqlStore, open_store

NO_POSTGRES = (
    "TEST_DATABASE_URL is not set: run under scripts/with-postgres (as `make test` does) "
    "to run the storage tests against PostgreSQL too"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty database of each backend."""
    async with empty_database(request.param, tmp_path) as url:
        yield url


@asynccontextmanager
async def empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL to an empty "sqlite" database under `tmp_path`, or to a throw-away "postgres" one
    (the test is skipped when TEST_DATABASE_URL is not set)."""
    if backend == "sqlite":
        yield Settings(data_dir=tmp_path / "data").sqlalchemy_url
        return
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        pytest.skip(NO_POSTGRES)
    async with _fresh_postgres_database(base) as url:
        yield url


@asynccontextmanager
async def _fresh_postgres_database(base_url: str) -> AsyncIterator[str]:
    base = make_url(base_url)
    name = f"parley_test_{uuid.uuid4().hex[:16]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[SqlStore]:
    opened = await open_store(db_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def ref() -> ConversationRef:
    return ConversationRef(platform="slack", workspace_id="T1", channel_id="C1", thread_id="17.5")
