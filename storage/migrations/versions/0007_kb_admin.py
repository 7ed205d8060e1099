"""Knowledge administration: the reindex lease (one reindex at a time across processes, with its
progress and the last run's result) and the sources added from chat.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_lease",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("started_at", Timestamp, nullable=True),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.Column("progress", sa.Text(), nullable=False),
        sa.Column("cancel_by", sa.String(), nullable=False),
        sa.Column("last_actor", sa.String(), nullable=False),
        sa.Column("last_target", sa.Text(), nullable=False),
        sa.Column("last_finished_at", Timestamp, nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=False),
        sa.Column("last_headline", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kb_lease"),
    )
    op.create_table(
        "kb_sources",
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("added_by", sa.String(), nullable=False),
        sa.Column("added_at", Timestamp, nullable=True),
        sa.Column("last_indexed_at", Timestamp, nullable=True),
        sa.Column("last_outcome", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_kb_sources"),
    )


def downgrade() -> None:
    op.drop_table("kb_sources")
    op.drop_table("kb_lease")
