"""instance tallies: each organization's, region's and project's count of instances, kept by
triggers, so a list page's total costs the same whatever the table's size

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 10:15:00

A later migration that rebuilds ``instances`` (a batch_alter_table on SQLite copies the table
into a new one) drops these triggers with it: create them again there (create_triggers).
tests/service/test_instance_tallies.py fails on a store whose tallies no longer follow.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KEY = ("organization_id", "region", "project_id")


def _matches(row: str) -> str:
    return " AND ".join(f"{column} = {row}.{column}" for column in KEY)


def _sqlite_add(row: str) -> str:
    values = ", ".join(f"{row}.{column}" for column in KEY)
    return (
        f"INSERT OR IGNORE INTO instance_tallies ({', '.join(KEY)}, instances) "
        f"VALUES ({values}, 0); "
        f"UPDATE instance_tallies SET instances = instances + 1 WHERE {_matches(row)};"
    )


def _sqlite_remove(row: str) -> str:
    return f"UPDATE instance_tallies SET instances = instances - 1 WHERE {_matches(row)};"


MOVED = f"UPDATE OF {', '.join(KEY)} ON instances"
SQLITE_TRIGGERS = {
    "instances_tally_insert": f"AFTER INSERT ON instances BEGIN {_sqlite_add('NEW')} END",
    "instances_tally_delete": f"AFTER DELETE ON instances BEGIN {_sqlite_remove('OLD')} END",
    "instances_tally_move": (
        f"AFTER {MOVED} BEGIN {_sqlite_remove('OLD')} {_sqlite_add('NEW')} END"
    ),
}

# Concurrent creates in one project take turns on its tally's row (an upsert), until they commit.
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION instance_tallies_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE instance_tallies SET instances = instances - 1 WHERE {_matches("OLD")};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO instance_tallies AS t ({", ".join(KEY)}, instances)
    VALUES ({", ".join(f"NEW.{column}" for column in KEY)}, 1)
    ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET instances = t.instances + 1;
  END IF;
  RETURN NULL;
END $$
"""
POSTGRESQL_TRIGGER = (
    f"CREATE TRIGGER instances_tally AFTER INSERT OR DELETE OR {MOVED} "
    "FOR EACH ROW EXECUTE FUNCTION instance_tallies_follow()"
)


def create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
        return
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def upgrade() -> None:
    op.create_table(
        "instance_tallies",
        sa.Column("organization_id", sa.String(length=36), primary_key=True),
        sa.Column("region", sa.String(length=16), primary_key=True),
        sa.Column("project_id", sa.String(length=36), primary_key=True),
        sa.Column("instances", sa.Integer(), nullable=False),
    )
    # the tallies of the rows already there, then triggers: the migration runs with the
    # service stopped (deploy/up.sh migrates before it starts the API and the workers)
    op.execute(
        f"INSERT INTO instance_tallies ({', '.join(KEY)}, instances) "
        f"SELECT {', '.join(KEY)}, count(*) FROM instances GROUP BY {', '.join(KEY)}"
    )
    create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER instances_tally ON instances")
        op.execute("DROP FUNCTION instance_tallies_follow()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("instance_tallies")
