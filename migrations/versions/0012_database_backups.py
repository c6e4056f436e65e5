"""Logical backups of one database each (issue 17)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 11:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controlplane.db.base import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key to instances: a backup outlives its instance until it expires.
    op.create_table(
        "database_backups",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("instance_name", sa.String(length=255), nullable=False),
        sa.Column("engine", sa.String(length=64), nullable=False),
        sa.Column("database_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        # The key the dump was encrypted with, itself encrypted by the keyring (rotate-key
        # re-encrypts it like any secret, so backups outlive a key rotation).
        sa.Column("key_secret", sa.Text(), nullable=False, server_default=""),
        sa.Column("same_region", sa.Boolean(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("download_url_expires_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_database_backups_listing",
        "database_backups",
        ["organization_id", "region", "created_at", "id"],
    )
    op.create_index("ix_database_backups_instance_id", "database_backups", ["instance_id"])
    op.create_index("ix_database_backups_expires_at", "database_backups", ["expires_at"])


def downgrade() -> None:
    op.drop_table("database_backups")
