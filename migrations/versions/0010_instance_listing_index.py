"""list pages walk an index: organization, region, creation time, id

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_instances_listing", "instances", ["organization_id", "region", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_instances_listing", table_name="instances")
