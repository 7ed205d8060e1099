"""Alembic migrations, shipped with the package and run by `storage.migrate.upgrade` at start-up."""
