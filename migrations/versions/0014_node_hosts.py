"""Where each node runs (issue 19: several Docker hosts)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: the one local Docker engine (single-host mode, and every node made before)
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch.create_index("ix_nodes_host", ["host"])
        # the host port the control plane reaches the node on, at its host's address
        batch.add_column(sa.Column("admin_port", sa.Integer(), nullable=True))
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("load_balancer_host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("load_balancer_host")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_column("admin_port")
        batch.drop_index("ix_nodes_host")
        batch.drop_column("host")
