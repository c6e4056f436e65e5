"""ACL rules per instance; every existing instance gets the API's default rule

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime, utcnow

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The default rule as domain/acl.py has it (the migration keeps its own copy: it must not
# change meaning if the code's default ever does).
DEFAULT_IP, DEFAULT_DESCRIPTION = "0.0.0.0/0", "Allow All"


def upgrade() -> None:
    op.create_table(
        "acl_rules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "instance_id",
            sa.String(length=36),
            sa.ForeignKey("instances.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("ip", sa.String(length=18), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("instance_id", "ip"),
    )
    op.create_index("ix_acl_rules_instance_id", "acl_rules", ["instance_id"])
    # Existing endpoints admit everybody today: the default rule says exactly that.
    rules = sa.table(
        "acl_rules",
        sa.column("instance_id", sa.String),
        sa.column("ip", sa.String),
        sa.column("description", sa.String),
        sa.column("created_at", UtcDateTime()),
    )
    instances = sa.table("instances", sa.column("id", sa.String))
    op.execute(
        rules.insert().from_select(
            ["instance_id", "ip", "description", "created_at"],
            sa.select(
                instances.c.id,
                sa.literal(DEFAULT_IP, sa.String),
                sa.literal(DEFAULT_DESCRIPTION, sa.String),
                sa.literal(utcnow(), UtcDateTime()),
            ),
        )
    )


def downgrade() -> None:
    op.drop_table("acl_rules")
