"""Alembic environment for Parley's schema.

At start-up `storage.migrate.upgrade` hands over an open connection in
`config.attributes["connection"]`, inside a transaction it owns. From the command line (to write a
new revision) pass the database with `-x url=…`, e.g.

    alembic -c storage/migrations/alembic.ini -x url=sqlite+aiosqlite:///data/parley.db \
        revision --autogenerate -m "add approvals"

then read and edit the generated file: revisions are reviewed code, never generated at runtime.
Logging is deliberately not configured here (no `fileConfig`): the application owns logging.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage import approvals as _approvals  # noqa: F401  (tool approval tables, rev. 0002)
from storage import audit as _audit  # noqa: F401  (admin audit log, rev. 0005)
from storage import jobs as _jobs  # noqa: F401  (scheduled job runs, rev. 0008)
from storage import kb_admin as _kb_admin  # noqa: F401  (reindex lease, kb sources, rev. 0007)
from storage.db import create_engine

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _cli_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=sqlite+aiosqlite:///data/parley.db")
    return url


async def _run_from_cli() -> None:
    engine = create_engine(_cli_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    _configure(url=_cli_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    asyncio.run(_run_from_cli())
