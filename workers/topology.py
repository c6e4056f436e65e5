"""What an instance should consist of, computed from its desired state (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from agents.base import Role, ServerSetting
from controlplane.catalog.model import ApplyVia, EngineVersion, NodeType
from controlplane.catalog.settings_change import shown_settings
from controlplane.catalog.settings_rules import engine_value
from controlplane.services.capacity import host_memory_bytes


@dataclass(frozen=True)
class Limits:
    nano_cpus: int
    mem_bytes: int


def node_limits(
    node_type: NodeType, host_cpus: int | None = None, host_mem: int | None = None
) -> Limits:
    """The node type's vCPUs and memory as container limits, capped to what the host has."""
    cpus = min(node_type.vcpus, host_cpus or os.cpu_count() or 1)
    mem = min(node_type.memory, host_mem or host_memory_bytes())
    return Limits(nano_cpus=int(cpus * 1e9), mem_bytes=mem)


def effective_settings(
    version: EngineVersion, node_type: NodeType, chosen: list[dict[str, str]]
) -> list[tuple[str, str]]:
    """Defaults for the node type, overridden by the settings the user chose."""
    return shown_settings(version, node_type, {s["name"]: s["value"] for s in chosen})


def server_settings(version: EngineVersion, settings: list[tuple[str, str]]) -> list[ServerSetting]:
    resolved = []
    for name, value in settings:
        setting = version.setting(name)
        if setting is None:  # removed from the catalog since: not applied
            continue
        resolved.append(
            ServerSetting(
                setting.engine_name, engine_value(setting, value), setting.hot_configurable
            )
        )
    return resolved


def init_options(version: EngineVersion, init_settings: list[dict[str, str]]) -> dict[str, str]:
    """Init settings applied when the data directory is created (engine option -> value)."""
    options = {}
    for item in init_settings:
        setting = version.init_setting(item["name"])
        if setting is not None and setting.apply == ApplyVia.INITDB:
            options[setting.engine_name] = engine_value(setting, item["value"])
    return options


def init_server_settings(
    version: EngineVersion, init_settings: list[dict[str, str]]
) -> list[ServerSetting]:
    """Init settings that are server parameters, fixed for the life of the instance."""
    resolved = []
    for item in init_settings:
        setting = version.init_setting(item["name"])
        if setting is not None and setting.apply == ApplyVia.CONFIG:
            value = engine_value(setting, item["value"])
            resolved.append(ServerSetting(setting.engine_name, value, setting.hot_configurable))
    return resolved


def roles(nodes: list[tuple[str, str]], sync_mode: str) -> dict[str, Role]:
    """Each node's role from the (name, role) rows; the primary names its standbys as
    synchronous only while the instance is in ``sync`` mode."""
    primary = next((name for name, role in nodes if role == "primary"), None)
    standbys = tuple(sorted(name for name, role in nodes if role == "standby"))
    result: dict[str, Role] = {}
    for name, role in nodes:
        if role == "primary":
            sync = standbys if sync_mode == "sync" else ()
            result[name] = Role("primary", name, sync_standbys=sync)
        else:
            result[name] = Role(role, name, primary_host=primary)
    return result
