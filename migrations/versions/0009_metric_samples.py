"""metric samples of instance nodes (the sampler writes them, GET .../metrics reads them)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("node_name", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sampled_at", UtcDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_metric_samples_instance_time", "metric_samples", ["instance_id", "sampled_at"]
    )
    op.create_index("ix_metric_samples_sampled_at", "metric_samples", ["sampled_at"])


def downgrade() -> None:
    op.drop_table("metric_samples")
