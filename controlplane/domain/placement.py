"""Which host runs each node of an instance (issue 19: several Docker hosts). Pure decisions.

Invariants a caller can rely on:
- an instance's main node and its standby never share a host, and sit in different zones whenever
  the hosts carry zones and such a pair of hosts has room; an HA instance with a single eligible
  host is refused (``Refused``, reason ``out_of_stock``), never silently co-located;
- read replicas spread: first the hosts holding no other node of the instance, then the least
  loaded (used memory over capacity);
- a node never goes to a drained host, nor to one without the memory it asks for;
- every choice is deterministic: ties are broken by host name.

``drain_plan`` empties a host: replicas and standbys move first (the main keeps serving), then the
main is handed to its standby by a switchover and rebuilt elsewhere as the new standby, so no
acknowledged commit is lost. A main without a standby moves with downtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

Role = Literal["primary", "standby", "replica"]
ROLE_ORDER: dict[str, int] = {"primary": 0, "standby": 1, "replica": 2}
OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True)
class Host:
    name: str
    zone: str | None
    memory_capacity: int
    memory_used: int  # every node already placed there, this instance's included
    drained: bool = False


@dataclass(frozen=True)
class Node:
    name: str
    role: Role
    memory: int
    host: str | None = None  # None: not placed yet


@dataclass(frozen=True)
class Placed:
    hosts: dict[str, str]  # node name -> host name, for every node of the instance


@dataclass(frozen=True)
class Refused:
    node: str
    message: str
    reason: str = OUT_OF_STOCK


PlaceResult = Placed | Refused


@dataclass(frozen=True)
class InstancePlacement:
    instance: str
    nodes: tuple[Node, ...]  # all placed


@dataclass(frozen=True)
class Move:
    instance: str
    node: str
    source: str
    target: str
    downtime: bool = False  # a main without a standby stops while it moves


@dataclass(frozen=True)
class Switchover:
    instance: str
    from_node: str  # the main, leaving the drained host
    to_node: str  # its standby, promoted


@dataclass(frozen=True)
class DrainPlan:
    steps: list[Move | Switchover]
    blocked: list[Refused]


def _partner(node: Node, nodes: Sequence[Node]) -> Node | None:
    """The other half of an HA pair: the main for the standby and the reverse."""
    other = {"primary": "standby", "standby": "primary"}.get(node.role)
    return next((n for n in nodes if other is not None and n.role == other), None)


def _rank(
    host: Host, used: int, partner: Host | None, taken: set[str]
) -> tuple[int, int, float, str]:
    """Lower is better: away from the partner's zone, away from the instance, least loaded."""
    same_zone = (
        partner is not None
        and host.zone is not None
        and partner.zone is not None
        and host.zone == partner.zone
    )
    load = used / host.memory_capacity if host.memory_capacity else 1.0
    return (int(same_zone), int(host.name in taken), load, host.name)


def place(hosts: Sequence[Host], nodes: Sequence[Node]) -> PlaceResult:
    """A host for each unplaced node; placed nodes stay where they are."""
    by_name = {h.name: h for h in hosts}
    used = {h.name: h.memory_used for h in hosts}
    where = {n.name: n.host for n in nodes if n.host is not None}
    eligible = [h for h in hosts if not h.drained]
    standby = next((n for n in nodes if n.role == "standby"), None)
    if standby is not None and len(eligible) < 2:
        return Refused(standby.name, "high availability needs two hosts; fewer are available")
    pending = sorted(
        (n for n in nodes if n.host is None), key=lambda n: (ROLE_ORDER[n.role], n.name)
    )
    for node in pending:
        partner = _partner(node, nodes)
        partner_host = by_name.get(where.get(partner.name, "")) if partner else None
        fits = [
            h
            for h in eligible
            if used[h.name] + node.memory <= h.memory_capacity
            and (partner_host is None or h.name != partner_host.name)
        ]
        if not fits:
            why = "no host apart from its partner's has" if partner_host else "no host has"
            return Refused(node.name, f"{why} {node.memory} bytes free for node {node.name}")
        taken = set(where.values())
        chosen = min(fits, key=lambda h: _rank(h, used[h.name], partner_host, taken))
        where[node.name] = chosen.name
        used[chosen.name] += node.memory
    return Placed({n.name: where[n.name] for n in nodes})


def drain_plan(
    hosts: Sequence[Host], placements: Iterable[InstancePlacement], host: str
) -> DrainPlan:
    """How to empty ``host``: per instance (by id), replicas and standbys first, the main last."""
    state = {h.name: replace(h, drained=h.drained or h.name == host) for h in hosts}
    steps: list[Move | Switchover] = []
    blocked: list[Refused] = []
    for instance in sorted(placements, key=lambda p: p.instance):
        nodes = list(instance.nodes)
        leaving = sorted(
            (n for n in nodes if n.host == host),
            key=lambda n: (-ROLE_ORDER[n.role], n.name),
        )
        for node in leaving:
            nodes, moved = _move_one(state, nodes, node, instance.instance, steps)
            if isinstance(moved, Refused):
                blocked.append(moved)
                break
    return DrainPlan(steps, blocked)


def _move_one(
    state: dict[str, Host],
    nodes: list[Node],
    node: Node,
    instance: str,
    steps: list[Move | Switchover],
) -> tuple[list[Node], Placed | Refused]:
    standby = _partner(node, nodes) if node.role == "primary" else None
    swapped = nodes
    if standby is not None:
        # the standby takes over first; the old main is rebuilt elsewhere as the new standby
        swapped = [_with_role(n, standby, node) for n in nodes]
    moving = next(n for n in swapped if n.name == node.name)
    trial = [replace(n, host=None) if n.name == node.name else n for n in swapped]
    result = place(list(state.values()), trial)
    if isinstance(result, Refused):
        return nodes, result
    target = result.hosts[node.name]
    if standby is not None:
        steps.append(Switchover(instance, node.name, standby.name))
    steps.append(
        Move(instance, node.name, node.host or "", target, downtime=moving.role == "primary")
    )
    source = state[node.host or ""]
    state[source.name] = replace(source, memory_used=source.memory_used - node.memory)
    aim = state[target]
    state[target] = replace(aim, memory_used=aim.memory_used + node.memory)
    return [replace(n, host=target) if n.name == node.name else n for n in swapped], result


def _with_role(n: Node, standby: Node, primary: Node) -> Node:
    if n.name == standby.name:
        return replace(n, role="primary")
    if n.name == primary.name:
        return replace(n, role="standby")
    return n


def balancer_host(
    hosts: Sequence[Host], placed: dict[str, str], primary: str, has_standby: bool
) -> str | None:
    """Where an instance's load balancer goes. With a standby the endpoint must outlive the
    main node's host: a host without the main node, best without any node of the instance
    (losing it then costs the endpoint only), the least loaded; the main's own host only when
    it is the one. Without a standby, beside the main node: losing its host loses the instance
    anyway, and a second host would only add a way to lose the endpoint. None: no host."""
    main = placed.get(primary)
    nodes_on = set(placed.values())

    def rank(h: Host) -> tuple[bool, bool, float, str]:
        load = h.memory_used / h.memory_capacity if h.memory_capacity else 1.0
        if not has_standby:
            return (h.name != main, False, load, h.name)
        return (h.name == main, h.name in nodes_on, load, h.name)

    eligible = [h for h in hosts if not h.drained]
    return min(eligible, key=rank).name if eligible else None
