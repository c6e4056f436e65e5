"""instance log exports and the log collector's positions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 08:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_logs",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "instance_id", sa.String(length=36), sa.ForeignKey("instances.id"), nullable=False
        ),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("node_name", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_instance_logs_instance_id", "instance_logs", ["instance_id"])
    op.create_table(
        "log_positions",
        sa.Column("id", sa.String(length=255), primary_key=True),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_name", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_log_positions_instance_id", "log_positions", ["instance_id"])
    op.create_table(
        "log_days",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_name", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("object_key", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("merged", sa.JSON(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("instance_id", "node_name", "day"),
    )
    op.create_index("ix_log_days_instance_id", "log_days", ["instance_id"])


def downgrade() -> None:
    op.drop_table("log_days")
    op.drop_table("log_positions")
    op.drop_table("instance_logs")
