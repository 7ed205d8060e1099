"""Tool approvals: paused_turns, tool_approvals, approval_audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as they were at this revision (never import the models).
RowId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "paused_turns",
        sa.Column("turn_id", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=True),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("author_name", sa.String(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("done", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("turn_id", name="pk_paused_turns"),
    )
    op.create_index("ix_paused_turns_status", "paused_turns", ["status"])
    op.create_table(
        "tool_approvals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tool_call_id", sa.String(), nullable=False),
        sa.Column("turn_id", sa.String(), nullable=False),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("args_preview", sa.Text(), nullable=False),
        sa.Column("args_hash", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("requester_name", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("workspace_id", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decided_by_name", sa.String(), nullable=False),
        sa.Column("decided_at", Timestamp, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("card_message_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tool_approvals"),
        sa.ForeignKeyConstraint(
            ["turn_id"],
            ["paused_turns.turn_id"],
            name="fk_tool_approvals_turn_id_paused_turns",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_tool_approvals_turn_id", "tool_approvals", ["turn_id"])
    op.create_index("ix_tool_approvals_status", "tool_approvals", ["status"])
    op.create_table(
        "approval_audit",
        sa.Column("id", RowId, nullable=False),
        sa.Column("approval_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("args_hash", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_audit"),
    )
    op.create_index("ix_approval_audit_approval_id", "approval_audit", ["approval_id"])


def downgrade() -> None:
    op.drop_table("approval_audit")
    op.drop_table("tool_approvals")
    op.drop_table("paused_turns")
