"""Replies know which worker writes them; workers hold a lease renewed by a heartbeat.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("heartbeat_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("owner")
