"""Deterministic names and labels: a retry finds exactly what an earlier try created."""

from __future__ import annotations

import hashlib

from controlplane.settings import get_settings

LABEL_PREFIX = "dbaas"
# On our images: the hash of the recipe they were built from (deploy/images).
RECIPE_LABEL = "dbaas.recipe_hash"


def prefix() -> str:
    return get_settings().resource_prefix


def network(instance_id: str) -> str:
    return f"{prefix()}-{instance_id}"


def node_container(instance_id: str, node: str) -> str:
    return f"{prefix()}-{instance_id}-{node}"


def lb_container(instance_id: str) -> str:
    return f"{prefix()}-{instance_id}-lb"


def endpoint_container(instance_id: str, node: str) -> str:
    """The proxy of a read replica's direct-access endpoint."""
    return f"{prefix()}-{instance_id}-{node}-ep"


NODE_BRIDGE_PREFIX = "dbx"  # host interfaces of instance networks (firewall.py matches them)


def network_bridge(instance_id: str) -> str:
    """The host interface of the instance network: at most 15 characters."""
    digest = hashlib.sha256(network(instance_id).encode()).hexdigest()[:12]
    return f"{NODE_BRIDGE_PREFIX}{digest}"


def edge_network() -> str:
    """Where proxies publish their ports: the one network of ours with a route out."""
    return f"{prefix()}-edge"


def admin_network() -> str:
    """Swarm mode: the bridge of each host where nodes publish their port to the control plane
    (no masquerade: nothing leaves through it)."""
    return f"{prefix()}-admin"


def admin_labels() -> dict[str, str]:
    return {f"{LABEL_PREFIX}.owner": prefix(), f"{LABEL_PREFIX}.role": "admin"}


def edge_labels() -> dict[str, str]:
    return {f"{LABEL_PREFIX}.owner": prefix(), f"{LABEL_PREFIX}.role": "edge"}


def volume(instance_id: str, node: str) -> str:
    return f"{prefix()}-{instance_id}-{node}-data"


def labels(instance_id: str, **extra: str) -> dict[str, str]:
    base = {
        f"{LABEL_PREFIX}.owner": prefix(),
        f"{LABEL_PREFIX}.instance": instance_id,
    }
    base.update({f"{LABEL_PREFIX}.{k}": v for k, v in extra.items()})
    return base


def instance_filter(instance_id: str) -> dict[str, list[str]]:
    return {"label": [f"{LABEL_PREFIX}.owner={prefix()}", f"{LABEL_PREFIX}.instance={instance_id}"]}


def owner_labels() -> dict[str, str]:
    return {f"{LABEL_PREFIX}.owner": prefix()}


def owner_filter() -> dict[str, list[str]]:
    return {"label": [f"{LABEL_PREFIX}.owner={prefix()}"]}
