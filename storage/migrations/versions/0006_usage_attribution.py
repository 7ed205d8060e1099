"""Usage records say who and where (platform, workspace, channel, user) and what it cost.

Existing rows are backfilled from what is already stored: the place from their conversation,
the user from the newest user message of that conversation written before the record. Their
cost stays NULL (the prices configured back then are unknown); the usage report prices such
rows with the current table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = ("platform", "workspace_id", "channel_id", "user_id", "user_name")

_BACKFILL_PLACE = """
UPDATE usage_records SET
  platform = (SELECT c.platform FROM conversations c WHERE c.memory_key = usage_records.memory_key),
  workspace_id = (SELECT c.workspace_id FROM conversations c
                  WHERE c.memory_key = usage_records.memory_key),
  channel_id = (SELECT c.channel_id FROM conversations c
                WHERE c.memory_key = usage_records.memory_key)
WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.memory_key = usage_records.memory_key)
"""

_BACKFILL_USER = """
UPDATE usage_records SET
  user_id = COALESCE((SELECT m.author_id FROM messages m
                      WHERE m.memory_key = usage_records.memory_key AND m.role = 'user'
                        AND m.created_at <= usage_records.created_at
                      ORDER BY m.id DESC LIMIT 1), ''),
  user_name = COALESCE((SELECT m.author_name FROM messages m
                        WHERE m.memory_key = usage_records.memory_key AND m.role = 'user'
                          AND m.created_at <= usage_records.created_at
                        ORDER BY m.id DESC LIMIT 1), '')
"""


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        for name in _TEXT_COLUMNS:
            batch.add_column(sa.Column(name, sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("cost_usd", sa.Float(), nullable=True))
    op.create_index(
        "ix_usage_records_user_id_created_at", "usage_records", ["user_id", "created_at"]
    )
    op.create_index(
        "ix_usage_records_channel_id_created_at", "usage_records", ["channel_id", "created_at"]
    )
    op.execute(_BACKFILL_PLACE)
    op.execute(_BACKFILL_USER)


def downgrade() -> None:
    op.drop_index("ix_usage_records_channel_id_created_at", table_name="usage_records")
    op.drop_index("ix_usage_records_user_id_created_at", table_name="usage_records")
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_column("cost_usd")
        for name in reversed(_TEXT_COLUMNS):
            batch.drop_column(name)
