"""Host port allocation: stable ports recorded in the metadata store, checked free on the host."""

from __future__ import annotations

import socket

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controlplane.db.models import PortAllocation


def _free_on_host(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def allocate(
    session: Session,
    owner_id: str,
    purpose: str,
    low: int,
    high: int,
    address: str | None,
    taken: frozenset[int] = frozenset(),
) -> int:
    """The port already held by (owner, purpose), or the lowest free one in [low, high]:
    not recorded, not in ``taken`` (e.g. what Docker publishes for anyone), bindable here
    (``address`` None: on another machine, where ``taken`` is all there is to know)."""
    held = session.scalar(
        select(PortAllocation.port).where(
            PortAllocation.owner_id == owner_id, PortAllocation.purpose == purpose
        )
    )
    if held is not None:
        return held
    used = set(
        session.scalars(
            select(PortAllocation.port).where(PortAllocation.port.between(low, high))
        ).all()
    )
    for port in range(low, high + 1):
        if port in used or port in taken:
            continue
        if address is not None and not _free_on_host(address, port):
            continue
        try:
            with session.begin_nested():
                session.add(PortAllocation(port=port, owner_id=owner_id, purpose=purpose))
        except IntegrityError:
            continue  # taken concurrently
        return port
    raise RuntimeError(f"no free port left in {low}-{high}")


def release(session: Session, owner_id: str) -> None:
    """Frees the owner's ports and those of its parts (``<owner>:<part>``)."""
    session.execute(
        delete(PortAllocation).where(
            (PortAllocation.owner_id == owner_id)
            | PortAllocation.owner_id.startswith(f"{owner_id}:")
        )
    )
