"""Pure parts of several-host mode: a swarm node as placement sees it, the managers setting,
where a load balancer goes, how the control plane reaches a peer node, which addresses an
instance's certificate names."""

from __future__ import annotations

from typing import Any

from agents.base import Connection
from controlplane import certificates
from controlplane.domain.placement import Host, balancer_host
from workers.swarm_hosts import SwarmHost, describe, for_placement, manager_urls

GIB = 1 << 30


def _node(name: str, state: str = "ready", availability: str = "active", **labels: str) -> Any:
    return {
        "ID": f"id-{name}",
        "Spec": {"Availability": availability, "Labels": labels},
        "Description": {"Hostname": name, "Resources": {"MemoryBytes": 8 * GIB}},
        "Status": {"State": state, "Addr": "10.0.0.1"},
    }


def test_a_labelled_ready_node_is_usable() -> None:
    host = describe(_node("h1", **{"dbaas.zone": "a", "dbaas.docker": "tcp://h1:2376"}))
    assert host == SwarmHost("h1", "id-h1", "10.0.0.1", "a", "tcp://h1:2376", True, False, 8 * GIB)
    assert host.usable


def test_memory_label_overrides_what_the_kernel_reports() -> None:
    host = describe(_node("h1", **{"dbaas.docker": "unix:///s", "dbaas.memory": str(GIB)}))
    assert host.memory_capacity == GIB
    assert describe(_node("h1", **{"dbaas.memory": "lots"})).memory_capacity == 8 * GIB


def test_down_drained_or_unlabelled_hosts() -> None:
    down = describe(_node("h1", state="down", **{"dbaas.docker": "unix:///s"}))
    drained = describe(_node("h2", availability="drain", **{"dbaas.docker": "unix:///s"}))
    unlabelled = describe(_node("h3"))
    assert not down.usable and not drained.usable and not unlabelled.usable
    # placement sees the drained host (never placing there), not the down or unlabelled ones
    seen = for_placement([down, drained, unlabelled], {"h2": GIB})
    assert [(h.name, h.drained, h.memory_used) for h in seen] == [("h2", True, GIB)]


def test_managers_setting() -> None:
    assert manager_urls(" unix:///a.sock, tcp://b:2376 ,") == ["unix:///a.sock", "tcp://b:2376"]
    assert manager_urls("") == []


def test_ha_balancer_goes_to_a_host_without_the_instance_then_away_from_the_main() -> None:
    hosts = [Host(n, None, 8 * GIB, 0) for n in ("h1", "h2", "h3")]
    assert balancer_host(hosts, {"n1": "h1", "n2": "h2"}, "n1", True) == "h3"
    assert balancer_host(hosts[:2], {"n1": "h1", "n2": "h2"}, "n1", True) == "h2"
    assert balancer_host(hosts[:1], {"n1": "h1", "n2": "h1"}, "n1", True) == "h1"  # the one host
    drained = [Host("h1", None, 8 * GIB, 0), Host("h3", None, 8 * GIB, 0, drained=True)]
    assert balancer_host(drained, {"n1": "h1", "n2": "h3"}, "n1", True) == "h1"
    assert balancer_host([], {"n1": "h1"}, "n1", True) is None


def test_standalone_balancer_stays_beside_its_main_node() -> None:
    hosts = [Host("h1", None, 8 * GIB, 6 * GIB), Host("h2", None, 8 * GIB, 0)]
    assert balancer_host(hosts, {"n1": "h1"}, "n1", False) == "h1"
    assert balancer_host(hosts, {"n1": "h1", "r1": "h2"}, "n1", False) == "h1"
    drained = [Host("h1", None, 8 * GIB, 0, drained=True), Host("h2", None, 8 * GIB, 0)]
    assert balancer_host(drained, {"n1": "h1"}, "n1", False) == "h2"


def test_a_peer_is_reached_through_its_route_when_there_is_one() -> None:
    main = Connection(
        "10.99.0.11", 30001, "su", "pw", routes=(("10.220.0.5", "10.99.0.12", 30002),)
    )
    assert main.to_peer("10.220.0.5", 3306) == Connection(
        "10.99.0.12", 30002, "su", "pw", routes=main.routes
    )
    assert main.to_peer("172.30.0.9", 3306).host == "172.30.0.9"  # one host: its own address
    assert main.to_peer("172.30.0.9", 3306).port == 3306


def test_a_certificate_covers_the_addresses_it_names() -> None:
    issued = certificates.issue("i-1", "fr-par", ["10.99.0.13"])
    assert certificates.covers(issued.cert_pem, ["10.99.0.13"])
    assert certificates.covers(issued.cert_pem, ["10.99.0.13", "127.0.0.1"])
    assert not certificates.covers(issued.cert_pem, ["10.99.0.12"])
    assert not certificates.covers("", ["127.0.0.1"])
