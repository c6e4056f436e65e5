"""Host capacity: what node types are in stock on this host (pure, given the usage)."""

from __future__ import annotations

import os

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.catalog.lookup import find_node_type
from controlplane.catalog.model import Catalog, NodeType
from controlplane.db.models import Instance, Node

OVERCOMMIT = 2.0  # memory limits are ceilings, not reservations: idle engines use far less
LOW_STOCK_SHARE = 0.8


def host_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def stock_status(node_type: NodeType, committed_memory: int, host_memory: int) -> str:
    if node_type.disabled:
        return "out_of_stock"
    capacity = host_memory * OVERCOMMIT
    if committed_memory + min(node_type.memory, host_memory) > capacity:
        return "out_of_stock"
    if committed_memory + min(node_type.memory, host_memory) > capacity * LOW_STOCK_SHARE:
        return "low_stock"
    return "available"


def committed_memory(session: Session, catalog: Catalog, host_memory: int) -> int:
    """Memory limits of every node we run (each capped to the host, as applied)."""
    rows = session.execute(
        select(Instance.node_type).join(Node, Node.instance_id == Instance.id)
    ).all()
    total = 0
    for (name,) in rows:
        node_type = find_node_type(catalog, name)
        if node_type is not None:
            total += min(node_type.memory, host_memory)
    return total
