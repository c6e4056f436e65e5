"""per-organization quotas and the admission lock

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quota_instances", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quota_memory_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("quota_volume_bytes", sa.BigInteger(), nullable=True))
    locks = op.create_table(
        "admission_locks",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("counter", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(locks, [{"name": "capacity", "counter": 0}])


def downgrade() -> None:
    op.drop_table("admission_locks")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("quota_volume_bytes")
        batch_op.drop_column("quota_memory_bytes")
        batch_op.drop_column("quota_instances")
