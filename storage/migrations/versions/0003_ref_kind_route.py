"""Conversation refs keep their kind and route: conversations, paused_turns, tool_approvals.

Rows written before this revision read back as a channel, or a thread when they have a thread
id, with no route (the only platforms then, Slack and the console, need none).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("conversations", "paused_turns", "tool_approvals")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("kind", sa.String(), nullable=False, server_default="channel")
            )
            batch.add_column(sa.Column("route", sa.Text(), nullable=False, server_default=""))
        op.execute(
            sa.text(f"UPDATE {table} SET kind = 'thread' WHERE thread_id IS NOT NULL")  # noqa: S608
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("route")
            batch.drop_column("kind")
