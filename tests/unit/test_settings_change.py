"""Changing a running instance's settings: the lists Add/Set/Delete make, their refusals, and
how the nodes take them (reload, rolling restart, which node first). Pure: the real catalog."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from controlplane.catalog import find_engine_version, find_node_type, load_catalog
from controlplane.catalog import settings_change as change
from controlplane.catalog.model import EngineVersion, NodeType


@dataclass(frozen=True)
class Setting:
    name: str
    value: str


def _version(name: str) -> EngineVersion:
    version = find_engine_version(load_catalog(), name)
    assert version is not None
    return version


def _node(name: str = "db-dev-s") -> NodeType:
    node_type = find_node_type(load_catalog(), name)
    assert node_type is not None
    return node_type


PG, MARIADB = _version("PostgreSQL-15"), _version("MariaDB-10.11")


def _shown(version: EngineVersion, chosen: dict[str, str]) -> list[dict[str, str]]:
    return change.as_rows(change.shown_settings(version, _node(), chosen))


def test_a_fresh_instance_shows_the_listed_defaults_of_its_node_type() -> None:
    assert dict(change.shown_settings(PG, _node(), {})) == {
        "effective_cache_size": "1300",
        "maintenance_work_mem": "150",
        "max_connections": "100",
        "max_parallel_workers": "0",
        "max_parallel_workers_per_gather": "0",
        "work_mem": "4",
    }
    assert dict(change.shown_settings(MARIADB, _node(), {})) == {"max_connections": "100"}


def test_add_upserts_set_replaces_delete_returns_to_the_default() -> None:
    current = _shown(PG, {"work_mem": "8", "timezone": "Europe/Paris"})
    added = change.added(current, [Setting("lock_timeout", "500"), Setting("work_mem", "16")])
    assert added["work_mem"] == "16" and added["lock_timeout"] == "500"
    assert added["timezone"] == "Europe/Paris"
    # Terraform's PUT {work_mem = "8"}: what it leaves out is back to its default
    shown = dict(change.shown_settings(PG, _node(), change.replaced([Setting("work_mem", "8")])))
    assert shown["work_mem"] == "8" and "timezone" not in shown
    assert shown["max_connections"] == "100"
    deleted = dict(
        change.shown_settings(PG, _node(), change.deleted(current, ["work_mem", "timezone"]))
    )
    assert deleted["work_mem"] == "4" and "timezone" not in deleted


def test_mysql_put_answers_exactly_what_terraform_sent() -> None:
    """Observed on the real API: PUT [max_connections=350] -> [max_connections=350]."""
    new = change.replaced([Setting("max_connections", "350")])
    assert change.shown_settings(MARIADB, _node(), new) == [("max_connections", "350")]


@pytest.mark.parametrize(
    ("given", "argument", "words"),
    [
        ([Setting("no_such_setting", "1")], "settings.0.name", "is not a setting"),
        ([Setting("work_mem", "big")], "settings.0.value", "integer"),
        ([Setting("work_mem", "0")], "settings.0.value", "between 1 and 1024"),
        ([Setting("lc_collate", "C")], "settings.0.name", "only be set at creation"),
        ([Setting("work_mem", "8"), Setting("work_mem", "9")], "settings.1.name", "more than once"),
        ([Setting("max_connections", "300")], "settings.0.value", "holds at most 250"),
    ],
)
def test_refused_values_name_the_argument(given: list[Setting], argument: str, words: str) -> None:
    errors = change.value_errors(PG, _node(), given)
    assert [e.argument_name for e in errors] == [argument]
    assert words in errors[0].help_message


def test_a_bigger_node_type_holds_more_connections() -> None:
    assert change.value_errors(PG, _node("db-dev-m"), [Setting("max_connections", "300")]) == []


def test_delete_refuses_unknown_and_init_setting_names() -> None:
    errors = change.name_errors(PG, ["work_mem", "nope", "lc_ctype"])
    assert [e.argument_name for e in errors] == ["setting_names.1", "setting_names.2"]
    assert "only be set at creation" in errors[1].help_message


def test_hot_changes_reload_and_restart_only_changes_roll() -> None:
    before = _shown(PG, {})
    hot = change.plan_change(PG, before, _shown(PG, {"work_mem": "8"}))
    assert hot == change.Change(restart=False, main_first=False, resets=())
    up = change.plan_change(PG, before, _shown(PG, {"max_connections": "150"}))
    assert up.restart and not up.main_first
    down = change.plan_change(PG, _shown(PG, {"max_connections": "150"}), before)
    assert down.restart and down.main_first  # a standby must hold at least the primary's


def test_mariadb_resets_hot_settings_no_longer_listed() -> None:
    before = _shown(MARIADB, {"long_query_time": "2", "max_connections": "150"})
    plan = change.plan_change(MARIADB, before, _shown(MARIADB, {}))
    assert plan == change.Change(restart=False, main_first=False, resets=("long_query_time",))
    restart = change.plan_change(MARIADB, before, _shown(MARIADB, {"default_time_zone": "+02:00"}))
    assert restart.restart and not restart.main_first


def test_an_unchanged_list_plans_nothing() -> None:
    same = _shown(PG, {"work_mem": "8"})
    assert change.plan_change(PG, same, same) == change.Change(False, False, ())
