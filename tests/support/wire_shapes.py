"""The RDB v1 response objects as the wire notes describe them (scaleway-rdb-api.md section 3),
written out independently of our pydantic schemas, for tests that check answers field by field.

A shape is a type (``str``, ``int``, ``bool``, ...), ``Enum(...)``, ``Nullable(shape)``,
``ListOf(shape)``, ``Obj({...})`` (exactly those keys; ``Absent`` ones may be missing) or a
callable that raises ``AssertionError``. ``check(value, shape)`` asserts and names the path of the
first mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Enum:
    values: frozenset[str]

    def __init__(self, *values: str) -> None:
        object.__setattr__(self, "values", frozenset(values))


@dataclass(frozen=True)
class Nullable:
    shape: Any


@dataclass(frozen=True)
class ListOf:
    shape: Any


@dataclass(frozen=True)
class Absent:
    """A key that is omitted or holds the shape (oneof branches the real API leaves out)."""

    shape: Any


@dataclass(frozen=True)
class Obj:
    keys: Mapping[str, Any]


def timestamp(value: Any) -> None:
    """RFC 3339 in UTC, as Go's time.Time decodes it."""
    assert isinstance(value, str) and value.endswith("Z"), f"not an RFC 3339 UTC time: {value!r}"
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def uuid(value: Any) -> None:
    assert isinstance(value, str) and len(value) == 36 and value.count("-") == 4, value


def cidr(value: Any) -> None:
    assert isinstance(value, str) and "/" in value, f"not a CIDR: {value!r}"


def check(value: Any, shape: Any, path: str = "$") -> None:
    if isinstance(shape, Nullable):
        if value is not None:
            check(value, shape.shape, path)
    elif isinstance(shape, Enum):
        assert value in shape.values, f"{path}: {value!r} not in {sorted(shape.values)}"
    elif isinstance(shape, ListOf):
        assert isinstance(value, list), f"{path}: not a list: {value!r}"
        for i, item in enumerate(value):
            check(item, shape.shape, f"{path}[{i}]")
    elif isinstance(shape, Obj):
        assert isinstance(value, dict), f"{path}: not an object: {value!r}"
        required = {k for k, s in shape.keys.items() if not isinstance(s, Absent)}
        assert required <= set(value), f"{path}: missing {sorted(required - set(value))}"
        assert set(value) <= set(shape.keys), (
            f"{path}: extra {sorted(set(value) - set(shape.keys))}"
        )
        for key, sub in shape.keys.items():
            if key in value:
                check(value[key], sub.shape if isinstance(sub, Absent) else sub, f"{path}.{key}")
    elif shape is int:  # JSON numbers: a bool is no int, a string is no number
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: {value!r}"
    elif shape is float:
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: {value!r}"
    elif isinstance(shape, type):
        assert isinstance(value, shape), f"{path}: {value!r} is not {shape.__name__}"
    elif callable(shape):
        try:
            shape(value)
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from None
    else:  # pragma: no cover - a typo in a shape
        raise TypeError(f"unknown shape {shape!r}")


def one_endpoint_kind(value: Any) -> None:
    kinds = [k for k in ("load_balancer", "private_network", "direct_access") if k in value]
    assert len(kinds) == 1, f"an endpoint carries exactly one kind, not {kinds}"


def both(*checks: Callable[[Any], None]) -> Callable[[Any], None]:
    def run(value: Any) -> None:
        for one in checks:
            one(value)

    return run


INSTANCE_STATUS = Enum(
    "unknown", "ready", "provisioning", "configuring", "deleting", "error", "autohealing",
    "locked", "initializing", "disk_full", "backuping", "snapshotting", "restarting",
)  # fmt: skip
REPLICA_STATUS = Enum(
    "unknown", "provisioning", "initializing", "ready", "deleting", "error", "locked",
    "configuring", "promoting",
)  # fmt: skip
PERMISSION = Enum("readonly", "readwrite", "all", "custom", "none")

_ENDPOINT_KEYS = Obj(
    {
        "id": uuid,
        "ip": str,
        "port": int,
        "name": Nullable(str),
        "hostname": Absent(Nullable(str)),
        "load_balancer": Absent(Obj({})),
        "direct_access": Absent(Obj({})),
        "private_network": Absent(
            Obj(
                {
                    "private_network_id": uuid,
                    "service_ip": cidr,
                    "zone": str,
                    "provisioning_mode": Enum("static", "ipam"),
                }
            )
        ),
    }
)
ENDPOINT = both(lambda v: check(v, _ENDPOINT_KEYS), one_endpoint_kind)
SETTING = Obj({"name": str, "value": str})
READ_REPLICA = Obj(
    {
        "id": uuid,
        "endpoints": ListOf(ENDPOINT),
        "status": REPLICA_STATUS,
        "region": str,
        "same_zone": bool,
        "instance_id": uuid,
    }
)
INSTANCE = Obj(
    {
        "id": uuid,
        "name": str,
        "organization_id": uuid,
        "project_id": uuid,
        "status": INSTANCE_STATUS,
        "engine": str,
        "upgradable_version": ListOf(
            Obj({"id": uuid, "name": str, "version": str, "minor_version": str})
        ),
        "endpoint": Nullable(ENDPOINT),
        "tags": ListOf(str),
        "settings": ListOf(SETTING),
        "backup_schedule": Obj(  # never null: Terraform dereferences it
            {
                "frequency": int,
                "retention": int,
                "disabled": bool,
                "next_run_at": Nullable(timestamp),
            }
        ),
        "is_ha_cluster": bool,
        "high_availability_mode": Enum(
            "unknown_high_availability_mode", "disabled", "single_zone", "multiple_zone"
        ),
        "read_replicas": ListOf(READ_REPLICA),
        "node_type": str,
        "volume": Obj(
            {
                "type": Enum("lssd", "bssd", "sbs_5k", "sbs_15k"),
                "size": int,
                "class": Enum("unknown_storage_class", "lssd", "bssd", "sbs"),
            }
        ),
        "init_settings": ListOf(SETTING),
        "endpoints": ListOf(ENDPOINT),
        "logs_policy": Obj(
            {"max_age_retention": Nullable(int), "total_disk_retention": Nullable(int)}
        ),
        "backup_same_region": bool,
        "maintenances": ListOf(
            Obj(
                {
                    "starts_at": Nullable(timestamp),
                    "stops_at": Nullable(timestamp),
                    "closed_at": Nullable(timestamp),
                    "reason": str,
                    "status": Enum("unknown", "pending", "done", "canceled", "ongoing"),
                    "forced_at": Nullable(timestamp),
                    "is_applicable": bool,
                }
            )
        ),
        "encryption": Obj({"enabled": bool}),
        "created_at": timestamp,
        "region": str,
    }
)
ACL_RULE = Obj(
    {
        "ip": cidr,
        "port": Nullable(int),
        "protocol": Enum("tcp", "udp", "icmp"),
        "direction": Enum("inbound", "outbound"),
        "action": Enum("allow", "deny"),
        "description": str,
    }
)
USER = Obj({"name": str, "is_admin": bool})
DATABASE = Obj({"name": str, "owner": str, "managed": bool, "size": int})
PRIVILEGE = Obj({"permission": PERMISSION, "database_name": str, "user_name": str})
SCW_FILE = Obj({"name": str, "content_type": str, "content": str})
ENGINE_SETTING = Obj(
    {
        "name": str,
        "default_value": str,
        "hot_configurable": bool,
        "description": str,
        "property_type": Enum("BOOLEAN", "INT", "STRING", "FLOAT"),
        "unit": Nullable(str),
        "string_constraint": Nullable(str),
        "int_min": Nullable(int),
        "int_max": Nullable(int),
        "float_min": Nullable(float),
        "float_max": Nullable(float),
    }
)
DATABASE_ENGINE = Obj(
    {
        "name": str,
        "logo_url": str,
        "region": str,
        "versions": ListOf(
            Obj(
                {
                    "version": str,
                    "name": str,
                    "end_of_life": Nullable(timestamp),
                    "available_settings": ListOf(ENGINE_SETTING),
                    "disabled": bool,
                    "beta": bool,
                    "available_init_settings": ListOf(ENGINE_SETTING),
                    "release_date": Nullable(timestamp),
                }
            )
        ),
    }
)
NODE_TYPE = Obj(
    {
        "name": str,
        "stock_status": Enum("unknown", "low_stock", "out_of_stock", "available"),
        "description": str,
        "vcpus": int,
        "memory": int,
        "volume_constraint": Absent(Obj({"min_size": int, "max_size": int})),
        "is_bssd_compatible": Absent(bool),
        "disabled": bool,
        "beta": bool,
        "is_ha_required": bool,
        "available_volume_types": ListOf(
            Obj(
                {
                    "type": Enum("lssd", "bssd", "sbs_5k", "sbs_15k"),
                    "description": str,
                    "min_size": int,
                    "max_size": int,
                    "chunk_size": int,
                    "class": Enum("unknown_storage_class", "lssd", "bssd", "sbs"),
                }
            )
        ),
        "generation": Enum("unknown_generation", "generation_v1", "generation_v2", "generation_v3"),
        "instance_range": str,
        "region": str,
    }
)


def page_of(key: str, item: Any) -> Obj:
    """A paginated list answer: the items under ``key`` and an exact ``total_count``."""
    return Obj({key: ListOf(item), "total_count": int})


NOT_FOUND = Obj({"type": Enum("not_found"), "message": str, "resource": str, "resource_id": str})
INVALID_ARGUMENTS = Obj(
    {
        "type": Enum("invalid_arguments"),
        "message": str,
        "details": ListOf(
            Obj(
                {
                    "argument_name": str,
                    "reason": Enum("unknown", "required", "format", "constraint"),
                    "help_message": str,
                }
            )
        ),
    }
)
TRANSIENT_STATE = Obj(
    {
        "type": Enum("transient_state"),
        "message": str,
        "resource": str,
        "resource_id": str,
        "current_state": str,
    }
)
