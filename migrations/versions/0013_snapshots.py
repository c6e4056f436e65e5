"""Instance snapshots (issue 17)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to instances: a snapshot outlives its instance until it expires.
    op.create_table(
        "snapshots",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("instance_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("node_type", sa.String(length=64), nullable=False),
        sa.Column("volume_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("superuser_secret", sa.Text(), nullable=False),
        sa.Column("replication_secret", sa.Text(), nullable=False),
        sa.Column("key_secret", sa.Text(), nullable=False, server_default=""),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_snapshots_listing", "snapshots", ["organization_id", "region", "created_at"]
    )
    op.create_index("ix_snapshots_instance_id", "snapshots", ["instance_id"])
    op.create_index("ix_snapshots_expires_at", "snapshots", ["expires_at"])


def downgrade() -> None:
    op.drop_table("snapshots")
