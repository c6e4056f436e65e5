"""What the control plane itself sees of an instance's engine: its own superuser session."""

from __future__ import annotations

import psycopg

from controlplane.db.models import Instance
from controlplane.db.session import session_factory
from workers.blueprint import Blueprint, connection
from workers.blueprint import load as load_blueprint


def blueprint(instance_id: str) -> Blueprint:
    with session_factory()() as session:
        row = session.get(Instance, instance_id)
        assert row is not None
        return load_blueprint(row)


def superuser_connection(instance_id: str, dbname: str = "postgres") -> psycopg.Connection:
    """The service's superuser on the main node of a PostgreSQL instance (autocommit)."""
    bp = blueprint(instance_id)
    conn = connection(bp, bp.primary)
    return psycopg.connect(
        host=conn.host,
        port=conn.port,
        user=conn.user,
        password=conn.password,
        dbname=dbname,
        autocommit=True,
    )
