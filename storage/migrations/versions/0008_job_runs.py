"""Scheduled job runs: the claim that makes each run of a job happen in one process only, and
how it ended.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("job_id", sa.String(), nullable=False),
        sa.Column("run_at", Timestamp, nullable=False),
        sa.Column("worker", sa.String(), nullable=False),
        sa.Column("claimed_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "run_at", name="pk_job_runs"),
    )
    op.create_index("ix_job_runs_claimed_at", "job_runs", ["claimed_at"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_claimed_at", table_name="job_runs")
    op.drop_table("job_runs")
