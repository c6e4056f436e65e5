"""Helpers for HA tests and benchmarks: read the topology the control plane recorded."""

from __future__ import annotations

import os
import time

from sqlalchemy import select

from controlplane.db.models import Instance, Node
from controlplane.db.session import session_factory


def wait_ha_again(instance_id: str, timeout: float = 180) -> None:
    """Until the instance is ready with its standby synchronous again."""
    deadline = time.monotonic() + timeout
    while True:
        with session_factory()() as session:
            row = session.get(Instance, instance_id)
            assert row is not None
            if row.status == "ready" and row.sync_mode == "sync":
                return
        assert time.monotonic() < deadline, "the instance never became HA again"
        time.sleep(0.5)


def node_container(instance_id: str, role: str = "primary") -> str:

    from controlplane.db.session import session_factory

    with session_factory()() as session:
        node = session.scalar(
            select(Node).where(Node.instance_id == instance_id, Node.role == role)
        )
        assert node is not None
        return f"{os.environ['DBAAS_RESOURCE_PREFIX']}-{instance_id}-{node.name}"


def primary_container(instance_id: str) -> str:
    return node_container(instance_id, "primary")
