"""Engine settings: parse a wire value, check it against its EngineSetting, compute defaults.

Values travel as strings (``InstanceSetting.value``). ``parse_setting_value`` is the single
interpretation of such a string: validation is "it parses and satisfies the constraints", and the
agents render what it returns (``engine_value``), so the API never accepts a value the engine
would read differently. Everything here is pure.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Iterable
from functools import cache
from typing import Protocol

from controlplane.catalog.model import (
    EngineSetting,
    EngineVersion,
    NodeType,
    PropertyType,
)
from controlplane.domain.arguments import ArgumentError, Reason

SettingValue = bool | int | float | str

_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_TRUE = frozenset({"true", "on", "1"})
_FALSE = frozenset({"false", "off", "0"})
# Never allowed in a string value, whatever its regex: they could break the config file syntax.
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f'\"\\]")


class NamedValue(Protocol):
    """Anything with ``name`` and ``value``: the wire InstanceSetting, the SDK's, a dataclass."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str | None: ...


class SettingValueError(ValueError):
    """The value does not satisfy the setting's type or constraint; the message says why."""


def parse_setting_value(setting: EngineSetting, value: str) -> SettingValue:
    """Interpret ``value`` for ``setting``: bool, int, float or str, or raise SettingValueError.

    BOOLEAN accepts true/false, on/off, 1/0 (any case); INT a plain decimal integer (no unit);
    FLOAT a finite decimal number; STRING must fully match ``string_constraint``.
    """
    text = value.strip()
    kind = setting.property_type
    if kind is PropertyType.BOOLEAN:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise SettingValueError(f"{setting.name} must be a boolean (true or false)")
    if kind is PropertyType.INT:
        return _parse_int(setting, text)
    if kind is PropertyType.FLOAT:
        return _parse_float(setting, text)
    return _parse_string(setting, value)


def _parse_int(setting: EngineSetting, text: str) -> int:
    if not _INT_RE.fullmatch(text):
        unit = f" (in {setting.unit}, without the unit)" if setting.unit else ""
        raise SettingValueError(f"{setting.name} must be an integer{unit}")
    if len(text.lstrip("+-0")) > 19:  # beyond 64 bits, and beyond what int() parses quickly
        raise SettingValueError(f"{setting.name} is out of range")
    number = int(text)
    _check_range(setting, number, setting.int_min, setting.int_max)
    return number


def _parse_float(setting: EngineSetting, text: str) -> float:
    if not _FLOAT_RE.fullmatch(text):
        raise SettingValueError(f"{setting.name} must be a number")
    if len(text) > 64:
        raise SettingValueError(f"{setting.name} is out of range")
    number = float(text)
    if not math.isfinite(number):
        raise SettingValueError(f"{setting.name} must be a finite number")
    _check_range(setting, number, setting.float_min, setting.float_max)
    return number


def _check_range(
    setting: EngineSetting, number: float, low: float | None, high: float | None
) -> None:
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {_fmt(low)} and {_fmt(high)}"
        if low is None:
            bounds = f"at most {_fmt(high)}"
        elif high is None:
            bounds = f"at least {_fmt(low)}"
        raise SettingValueError(f"{setting.name} must be {bounds}")


def _fmt(number: float | None) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _parse_string(setting: EngineSetting, value: str) -> str:
    if _UNSAFE_CHARS.search(value):
        raise SettingValueError(
            f"{setting.name} must not contain quotes, backslashes or control characters"
        )
    if setting.string_constraint is not None and not re.fullmatch(setting.string_constraint, value):
        raise SettingValueError(
            f"{setting.name} must match the regular expression {setting.string_constraint}"
        )
    if setting.value_check == "timezone" and not _is_known_timezone(value):
        raise SettingValueError(f"{setting.name}: unknown time zone {str(value)!r}")
    return value


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _is_known_timezone(name: str) -> bool:
    known = _known_timezones()
    # Without a tz database on this host we cannot tell; the regex has already been applied.
    return not known or name in known


def engine_value(setting: EngineSetting, value: str) -> str:
    """The value as the engine wants it in its configuration, unquoted.

    Booleans become ``on``/``off`` (PostgreSQL and MariaDB both read them), INT values get
    ``engine_unit`` appended (``4`` -> ``4MB``), FLOAT and STRING are returned as given.
    Quoting for the config file syntax is the agent's job. Raises SettingValueError.
    """
    parsed = parse_setting_value(setting, value)
    if isinstance(parsed, bool):
        return "on" if parsed else "off"
    if isinstance(parsed, int):
        return f"{parsed}{setting.engine_unit or ''}"
    return value.strip() if isinstance(parsed, float) else parsed


def validate_settings(
    version: EngineVersion,
    settings: Iterable[NamedValue | tuple[str, str | None]],
    init: bool = False,
    field: str | None = None,
) -> list[ArgumentError]:
    """Check settings against ``version``: the names must exist and the values must be valid.

    ``init=True`` checks against ``available_init_settings``. Errors are named
    ``<field>.<index>.name`` / ``<field>.<index>.value``, ``field`` defaulting to ``init_settings``
    or ``settings``. A name given twice is an error on its second occurrence.
    """
    prefix = field or ("init_settings" if init else "settings")
    available = version.available_init_settings if init else version.available_settings
    by_name = {s.name: s for s in available}
    errors: list[ArgumentError] = []
    seen: set[str] = set()
    for index, item in enumerate(settings):
        name, value = item if isinstance(item, tuple) else (item.name, item.value)
        where = f"{prefix}.{index}"
        setting = by_name.get(name)
        if setting is None:
            errors.append(_unknown_setting(version, name, init, f"{where}.name"))
            continue
        if name in seen:
            errors.append(_error(f"{where}.name", f"setting {name} is given more than once"))
            continue
        seen.add(name)
        if value is None:
            errors.append(ArgumentError(f"{where}.value", Reason.REQUIRED, f"{name} needs a value"))
            continue
        try:
            parse_setting_value(setting, value)
        except SettingValueError as exc:
            errors.append(_error(f"{where}.value", str(exc)))
    return errors


def _unknown_setting(version: EngineVersion, name: str, init: bool, argument: str) -> ArgumentError:
    if init:
        known = version.available_init_settings
        kind = "init setting"
        elsewhere = " (it is a setting: change it once the instance exists)"
        other = version.setting(name)
    else:
        known = version.available_settings
        kind = "setting"
        elsewhere = " (it can only be set at creation, in init_settings)"
        other = version.init_setting(name)
    names = ", ".join(s.name for s in known) or "none"
    hint = elsewhere if other is not None else f"; available: {names}"
    return _error(argument, f"{str(name)!r} is not a {kind} of {version.name}{hint}")


def _error(argument: str, message: str) -> ArgumentError:
    return ArgumentError(argument, Reason.CONSTRAINT, message)


def default_settings(version: EngineVersion, node_type: NodeType) -> list[tuple[str, str]]:
    """The settings a fresh instance shows (``Instance.settings``), sorted by name.

    These are the settings flagged ``listed_by_default``. Their value is ``default_value``, or for
    settings with a ``memory_default``: ``floor(memory in MB * fraction)`` clamped to the
    setting's bounds (on a 2 GB node: effective_cache_size 1300, maintenance_work_mem 150).
    """
    values = [
        (s.name, _default_value(s, node_type))
        for s in version.available_settings
        if s.listed_by_default
    ]
    return sorted(values)


def _default_value(setting: EngineSetting, node_type: NodeType) -> str:
    rule = setting.memory_default
    if rule is None:
        return setting.default_value
    number = math.floor(node_type.memory_mb * rule.fraction)
    if setting.int_min is not None:
        number = max(number, setting.int_min)
    if setting.int_max is not None:
        number = min(number, setting.int_max)
    return str(number)


# Memory a connection may take (its backend or thread, work memory, buffers): a node type
# holds as many connections as its memory allows at this rate.
MEMORY_PER_CONNECTION_MB = 8


def connection_capacity(node_type: NodeType) -> int:
    """The most ``max_connections`` a node type holds (2 GB: 250; 4 GB: 500)."""
    return max(10, node_type.memory_mb // MEMORY_PER_CONNECTION_MB)


def rescale_settings(
    engine: str, settings: list[dict[str, str]], old: NodeType, new: NodeType
) -> list[dict[str, str]]:
    """A node type change: settings still at the old node type's memory-derived default take
    the new one's; values a user chose stay."""
    from controlplane.catalog import find_engine_version, load_catalog

    version = find_engine_version(load_catalog(), engine)
    if version is None:
        return settings
    rescaled = []
    for item in settings:
        setting = version.setting(item["name"])
        value = item["value"]
        derived = setting is not None and setting.memory_default is not None
        if derived and setting is not None and value == _default_value(setting, old):
            value = _default_value(setting, new)
        rescaled.append({"name": item["name"], "value": value})
    return rescaled
