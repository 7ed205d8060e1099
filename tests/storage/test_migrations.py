"""Migrations: data survives an upgrade, the revisions match the models, start-up is idempotent and
safe when workers start together, and Alembic leaves the application's logging alone."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlmodel import SQLModel

import storage
from bot.ports import Summary
from storage import open_store
from storage.db import create_engine
from storage.migrate import alembic_config, current_revision, head_revision, upgrade

MEMORY_KEY = "slack:T1:C1:"


def _revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def _seed_at_first_revision(url: str) -> None:
    """Rows written by a build that only knew the first revision."""
    engine = create_engine(url)
    try:
        await upgrade(engine, _revisions_oldest_first()[0])
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO conversations (memory_key, platform, workspace_id, channel_id,"
                    " summary, summary_through_message_id, input_tokens, output_tokens,"
                    " created_at, updated_at)"
                    " VALUES (:k, 'slack', 'T1', 'C1', 'Ada said hi.', 1, 10, 20, :now, :now)"
                ),
                {"k": MEMORY_KEY, "now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO messages (id, memory_key, role, author_id, author_name, text,"
                    " status, created_at, updated_at)"
                    " VALUES (1, :k, 'user', 'U1', 'Ada', 'My name is Ada.', 'final', :now, :now),"
                    " (2, :k, 'assistant', '', '', 'Hello Ada.', 'final', :now, :now)"
                ),
                {"k": MEMORY_KEY, "now": now},
            )
            await conn.execute(
                text("INSERT INTO processed_events (event_id, seen_at) VALUES ('Ev1', :now)"),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO usage_records (memory_key, provider, model, input_tokens,"
                    " output_tokens, created_at) VALUES (:k, 'openai', 'm', 10, 20, :now)"
                ),
                {"k": MEMORY_KEY, "now": now},
            )
    finally:
        await engine.dispose()


async def test_upgrade_keeps_existing_rows(db_url: str) -> None:
    await _seed_at_first_revision(db_url)
    store = await open_store(db_url)
    try:
        assert await current_revision(store.engine) == head_revision()
        assert [m.text for m in await store.history(MEMORY_KEY)] == [
            "My name is Ada.",
            "Hello Ada.",
        ]
        assert await store.summary(MEMORY_KEY) == Summary(text="Ada said hi.", through_message_id=1)
        assert await store.claim_event("Ev1") is False
        async with store.engine.connect() as conn:
            usage = (await conn.execute(text("SELECT count(*) FROM usage_records"))).scalar_one()
        assert usage == 1
    finally:
        await store.close()


async def test_each_revision_upgrades_and_downgrades(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert await current_revision(engine) is None
        for revision in _revisions_oldest_first():
            await upgrade(engine, revision)
            assert await current_revision(engine) == revision
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), "base"))
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


def _import_every_storage_module() -> None:
    """Tables may be declared in any `storage` module; load them all onto SQLModel.metadata."""
    for module in pkgutil.iter_modules(storage.__path__):
        if module.name != "migrations":
            importlib.import_module(f"storage.{module.name}")


async def test_models_match_the_migrated_schema(db_url: str) -> None:
    _import_every_storage_module()
    store = await open_store(db_url)
    try:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}),
                    SQLModel.metadata,
                )
            )
        assert diff == [], "storage/models.py and the migrations disagree; add a revision"
    finally:
        await store.close()


async def test_open_store_is_idempotent_and_concurrent(db_url: str) -> None:
    stores = await asyncio.gather(open_store(db_url), open_store(db_url), open_store(db_url))
    try:
        again = await open_store(db_url)
        await again.close()
        assert await current_revision(stores[0].engine) == head_revision()
    finally:
        for store in stores:
            await store.close()


async def test_alembic_leaves_logging_alone(db_url: str) -> None:
    app_logger = logging.getLogger("parley.test.app")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    store = await open_store(db_url)
    await store.close()
    assert root.handlers == handlers
    assert root.level == level
    assert not app_logger.disabled
    assert not any(
        getattr(logger, "disabled", False) for logger in logging.Logger.manager.loggerDict.values()
    )
