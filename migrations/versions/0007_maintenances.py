"""maintenances, the engine images workers observed, and each instance's pinned image

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_id", sa.String(length=128), nullable=True))
    op.create_table(
        "maintenances",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "instance_id", sa.String(length=36), sa.ForeignKey("instances.id"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=True),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("stops_at", UtcDateTime(), nullable=False),
        sa.Column("forced_at", UtcDateTime(), nullable=False),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_maintenances_instance_id", "maintenances", ["instance_id"])
    op.create_index("ix_maintenances_status", "maintenances", ["status"])
    op.create_table(
        "engine_images",
        sa.Column("image_id", sa.String(length=128), primary_key=True),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("recipe_hash", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=64), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("observed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_engine_images_tag", "engine_images", ["tag"])


def downgrade() -> None:
    op.drop_table("engine_images")
    op.drop_table("maintenances")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("image_id")
