"""Placement across Docker hosts (issue 19): pure decisions, deterministic."""

from __future__ import annotations

from controlplane.domain.placement import (
    OUT_OF_STOCK,
    Host,
    InstancePlacement,
    Move,
    Node,
    Placed,
    Refused,
    Switchover,
    drain_plan,
    place,
)

GB = 1 << 30


def hosts(*specs: tuple[str, str | None, int]) -> list[Host]:
    return [Host(name, zone, 8 * GB, used) for name, zone, used in specs]


def ha(memory: int = GB) -> list[Node]:
    return [Node("n1", "primary", memory), Node("n2", "standby", memory)]


def test_main_and_standby_on_different_zones() -> None:
    pool = hosts(("h1", "a", 0), ("h2", "a", 0), ("h3", "b", 0))
    result = place(pool, ha())
    assert result == Placed({"n1": "h1", "n2": "h3"})


def test_without_zones_the_pair_still_splits_hosts() -> None:
    pool = hosts(("h1", None, 0), ("h2", None, 0))
    result = place(pool, ha())
    assert isinstance(result, Placed)
    assert result.hosts["n1"] != result.hosts["n2"]


def test_same_zone_accepted_when_no_other_zone_has_room() -> None:
    pool = [Host("h1", "a", 8 * GB, 0), Host("h2", "a", 8 * GB, 0), Host("h3", "b", 8 * GB, 8 * GB)]
    assert place(pool, ha()) == Placed({"n1": "h1", "n2": "h2"})


def test_ha_refused_with_a_single_eligible_host() -> None:
    pool = [Host("h1", "a", 8 * GB, 0), Host("h2", "b", 8 * GB, 0, drained=True)]
    result = place(pool, ha())
    assert isinstance(result, Refused)
    assert result.reason == OUT_OF_STOCK
    assert result.node == "n2"


def test_standby_refused_when_only_its_mains_host_has_room() -> None:
    pool = [Host("h1", "a", 8 * GB, 0), Host("h2", "b", 8 * GB, 7 * GB + 1)]
    result = place(pool, ha())
    assert isinstance(result, Refused) and result.reason == OUT_OF_STOCK


def test_standby_rebuilt_away_from_the_placed_main() -> None:
    pool = hosts(("h1", "a", GB), ("h2", "b", GB), ("h3", "c", 0))
    nodes = [Node("n1", "primary", GB, host="h3"), Node("n2", "standby", GB)]
    result = place(pool, nodes)
    assert result == Placed({"n1": "h3", "n2": "h1"})


def test_replicas_spread_least_loaded_first() -> None:
    pool = hosts(("h1", "a", 0), ("h2", "b", 2 * GB), ("h3", "c", GB))
    nodes = [Node("n1", "primary", GB), *(Node(f"r{i}", "replica", GB) for i in (1, 2, 3))]
    result = place(pool, nodes)
    assert isinstance(result, Placed)
    # r1 and r2 go to hosts holding nothing of the instance; r3 then to the least loaded
    assert result.hosts == {"n1": "h1", "r1": "h3", "r2": "h2", "r3": "h1"}


def test_memory_capacity_and_drained_hosts_respected() -> None:
    pool = [
        Host("h1", None, 4 * GB, 3 * GB),
        Host("h2", None, 64 * GB, 0, drained=True),
        Host("h3", None, 4 * GB, 0),
    ]
    assert place(pool, [Node("n1", "primary", 2 * GB)]) == Placed({"n1": "h3"})
    result = place(pool, [Node("n1", "primary", 5 * GB)])
    assert isinstance(result, Refused) and result.reason == OUT_OF_STOCK


def test_deterministic_ties_by_name() -> None:
    pool = hosts(("h3", None, 0), ("h1", None, 0), ("h2", None, 0))
    assert place(pool, ha()) == Placed({"n1": "h1", "n2": "h2"})
    assert place(list(reversed(pool)), ha()) == place(pool, ha())


def test_drain_moves_replicas_and_standby_first_main_last_by_switchover() -> None:
    pool = hosts(("h1", "a", 3 * GB), ("h2", "b", GB), ("h3", "c", 0))
    nodes = (
        Node("n1", "primary", GB, "h1"),
        Node("n2", "standby", GB, "h2"),
        Node("r1", "replica", GB, "h1"),
    )
    other = (Node("m1", "primary", GB, "h1"),)
    plan = drain_plan(
        pool, [InstancePlacement("i-b", nodes), InstancePlacement("i-a", other)], "h1"
    )
    assert plan.blocked == []
    assert plan.steps == [
        Move("i-a", "m1", "h1", "h3", downtime=True),
        Move("i-b", "r1", "h1", "h3"),
        Switchover("i-b", "n1", "n2"),
        # the old main comes back as the standby, away from the new main (h2)
        Move("i-b", "n1", "h1", "h3"),
    ]


def test_drain_blocked_when_ha_cannot_survive() -> None:
    pool = hosts(("h1", "a", GB), ("h2", "b", GB))
    nodes = (Node("n1", "primary", GB, "h1"), Node("n2", "standby", GB, "h2"))
    plan = drain_plan(pool, [InstancePlacement("i", nodes)], "h1")
    assert plan.steps == []
    assert [b.node for b in plan.blocked] == ["n1"]
