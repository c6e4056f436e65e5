"""Deterministic names and labels: a retry finds exactly what an earlier try created."""

from __future__ import annotations

from controlplane.settings import get_settings

LABEL_PREFIX = "dbaas"


def prefix() -> str:
    return get_settings().resource_prefix


def network(instance_id: str) -> str:
    return f"{prefix()}-{instance_id}"


def node_container(instance_id: str, node: str) -> str:
    return f"{prefix()}-{instance_id}-{node}"


def lb_container(instance_id: str) -> str:
    return f"{prefix()}-{instance_id}-lb"


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


def owner_filter() -> dict[str, list[str]]:
    return {"label": [f"{LABEL_PREFIX}.owner={prefix()}"]}
