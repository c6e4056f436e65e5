"""Changing the settings of a running instance, as pure functions (no I/O).

An instance shows ``Instance.settings``: the settings listed by default, at their default for the
node type, overridden by those the user chose (``shown_settings``). Add upserts into that list,
Set replaces the chosen part whole (what it leaves out returns to its default), Delete returns the
named settings to their default. ``plan_change`` then tells the job how the nodes take the new
list: a reload when every changed setting is hot, else a rolling restart, in the order the engine
needs (PostgreSQL: a standby must hold at least the primary's ``max_connections``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from controlplane.catalog.model import EngineKind, EngineSetting, EngineVersion, NodeType
from controlplane.catalog.settings_rules import (
    NamedValue,
    connection_capacity,
    default_settings,
    validate_settings,
)
from controlplane.domain.arguments import ArgumentError, Reason

# PostgreSQL refuses to run a standby whose value is below the primary's (they size shared
# memory the standby replays into): a decrease restarts the main node first (Patroni's order).
PG_AT_LEAST_PRIMARY = frozenset(
    {
        "max_connections",
        "max_worker_processes",
        "max_wal_senders",
        "max_prepared_transactions",
        "max_locks_per_transaction",
    }
)


def shown_settings(
    version: EngineVersion, node_type: NodeType, chosen: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The defaults listed for the node type, overridden by ``chosen``, sorted by name."""
    merged = dict(default_settings(version, node_type))
    merged.update(chosen)
    return sorted(merged.items())


def as_rows(settings: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in settings]


def _as_map(rows: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {row["name"]: row["value"] for row in rows}


def added(current: Sequence[Mapping[str, str]], given: Iterable[NamedValue]) -> dict[str, str]:
    """AddInstanceSettings: the shown list with ``given`` upserted."""
    return {**_as_map(current), **{s.name: str(s.value) for s in given}}


def replaced(given: Iterable[NamedValue]) -> dict[str, str]:
    """SetInstanceSettings: exactly ``given``; everything else at its default."""
    return {s.name: str(s.value) for s in given}


def deleted(current: Sequence[Mapping[str, str]], names: Iterable[str]) -> dict[str, str]:
    """DeleteInstanceSettings: the shown list without ``names`` (listed ones show their default
    again once merged with the defaults)."""
    gone = set(names)
    return {k: v for k, v in _as_map(current).items() if k not in gone}


def value_errors(
    version: EngineVersion, node_type: NodeType, given: Sequence[NamedValue]
) -> list[ArgumentError]:
    """Catalog checks (names, types, ranges), then what the node type can hold."""
    errors = validate_settings(version, given, field="settings")
    if errors:
        return errors
    limit = connection_capacity(node_type)
    for index, item in enumerate(given):
        if item.name == "max_connections" and int(str(item.value).strip()) > limit:
            errors.append(
                ArgumentError(
                    f"settings.{index}.value",
                    Reason.CONSTRAINT,
                    f"{node_type.name} holds at most {limit} connections; upgrade the node type "
                    f"first for a higher max_connections",
                )
            )
    return errors


def name_errors(version: EngineVersion, names: Sequence[str]) -> list[ArgumentError]:
    """DeleteInstanceSettings: every name must be a setting of the version."""
    errors = validate_settings(version, [(name, "") for name in names], field="setting_names")
    return [
        ArgumentError(e.argument_name.removesuffix(".name"), e.reason, e.help_message)
        for e in errors
        if e.argument_name.endswith(".name")
    ]


@dataclass(frozen=True)
class Change:
    """How the nodes take a new settings list."""

    restart: bool  # some changed setting is not hot: a rolling restart
    main_first: bool  # the main node restarts before its followers (see PG_AT_LEAST_PRIMARY)
    resets: tuple[str, ...]  # hot settings no longer shown: set back to their default at runtime


def plan_change(
    version: EngineVersion, before: Sequence[Mapping[str, str]], after: Sequence[Mapping[str, str]]
) -> Change:
    old, new = _as_map(before), _as_map(after)
    changed = [name for name in old.keys() | new.keys() if old.get(name) != new.get(name)]
    settings = [s for s in (version.setting(name) for name in sorted(changed)) if s is not None]
    restart = any(not s.hot_configurable for s in settings)
    main_first = restart and any(_decreases(version, s, old, new) for s in settings)
    resets = tuple(s.name for s in settings if s.hot_configurable and s.name not in new)
    return Change(restart=restart, main_first=main_first, resets=resets)


def _decreases(
    version: EngineVersion, setting: EngineSetting, old: Mapping[str, str], new: Mapping[str, str]
) -> bool:
    if (
        version.family is not EngineKind.POSTGRESQL
        or setting.engine_name not in PG_AT_LEAST_PRIMARY
    ):
        return False
    before = old.get(setting.name, setting.default_value)
    after = new.get(setting.name, setting.default_value)
    return int(after) < int(before)
