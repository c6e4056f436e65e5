"""The catalog data and the pure rules built on it."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controlplane.catalog import (
    ApplyVia,
    Catalog,
    CatalogError,
    EngineKind,
    EngineVersion,
    NodeType,
    PropertyType,
    default_settings,
    effective_volume_size,
    engine_value,
    find_engine_family,
    find_engine_version,
    find_engine_version_by_id,
    find_node_type,
    load_catalog,
    parse_setting_value,
    upgradable_versions,
    validate_settings,
    validate_volume,
)
from controlplane.catalog.loader import CATALOG_DIR
from controlplane.domain.arguments import ArgumentError

GB = 1_000_000_000

EXPECTED_NODE_TYPES = [
    "db-play2-pico",
    "db-play2-nano",
    "db-dev-s",
    "db-dev-m",
    "db-dev-l",
    "db-dev-xl",
    "db-gp-xs",
    "db-gp-s",
    "db-gp-m",
    "db-pro2-xxs",
    "db-pro2-xs",
    "db-pro2-s",
    "db-pro2-m",
    "db-pop2-2c-8g",
    "db-pop2-4c-16g",
]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def node(catalog: Catalog, name: str) -> NodeType:
    found = find_node_type(catalog, name)
    assert found is not None
    return found


def version(catalog: Catalog, name: str) -> EngineVersion:
    found = find_engine_version(catalog, name)
    assert found is not None
    return found


@dataclass(frozen=True)
class Setting:
    name: str
    value: str | None


def errors_by_argument(errors: list[ArgumentError]) -> dict[str, str]:
    return {e.argument_name: e.reason for e in errors}


# --- loading ----------------------------------------------------------------------------------


def test_catalog_loads_once(catalog: Catalog) -> None:
    assert load_catalog() is catalog
    assert [n.name for n in catalog.node_types] == EXPECTED_NODE_TYPES
    assert [v.name for v in catalog.engine_versions()] == [
        "PostgreSQL-17",
        "PostgreSQL-15",
        "MariaDB-11.8",
        "MariaDB-10.11",
    ]


def test_catalog_directory_can_be_overridden(tmp_path: Path, catalog: Catalog) -> None:
    for name in ("node_types.json", "engines.json"):
        shutil.copy(CATALOG_DIR / name, tmp_path / name)
    copy = load_catalog(tmp_path)
    assert copy is not catalog
    assert copy == catalog


def _broken_copy(tmp_path: Path, edit: str) -> Path:
    shutil.copy(CATALOG_DIR / "node_types.json", tmp_path / "node_types.json")
    engines = json.loads((CATALOG_DIR / "engines.json").read_text())
    postgres = engines["engines"][0]
    if edit == "typo":
        postgres["settings"][0]["hot_configurble"] = True
    elif edit == "order":
        postgres["versions"].reverse()
    elif edit == "default":
        postgres["settings"][0]["default_value"] = "maybe"
    (tmp_path / "engines.json").write_text(json.dumps(engines))
    return tmp_path


@pytest.mark.parametrize("edit", ["typo", "order", "default"])
def test_malformed_catalog_is_refused(tmp_path: Path, edit: str) -> None:
    with pytest.raises(CatalogError):
        load_catalog(_broken_copy(tmp_path, edit))


# --- node types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "vcpus", "memory_gb", "lssd_gb"),
    [
        ("db-play2-pico", 1, 2, 5),
        ("db-dev-s", 2, 2, 5),
        ("db-dev-m", 3, 4, 25),
        ("db-pro2-xxs", 2, 8, 25),
        ("db-pop2-4c-16g", 4, 16, 50),
    ],
)
def test_node_type_sizes(
    catalog: Catalog, name: str, vcpus: int, memory_gb: int, lssd_gb: int
) -> None:
    node_type = node(catalog, name)
    assert (node_type.vcpus, node_type.memory) == (vcpus, memory_gb * GB)
    lssd = node_type.volume_type("lssd")
    assert lssd is not None
    assert lssd.min_size == lssd.max_size == lssd_gb * GB


def test_node_types_are_well_formed(catalog: Catalog) -> None:
    for node_type in catalog.node_types:
        assert node_type.name == node_type.name.lower()
        assert not (node_type.disabled or node_type.beta or node_type.is_ha_required)
        assert node_type.generation in ("generation_v1", "generation_v2")
        types = {v.type: v for v in node_type.available_volume_types}
        assert {"lssd", "sbs_5k", "sbs_15k"} <= types.keys()
        assert ("bssd" in types) == (node_type.generation == "generation_v1")
        for block in ("sbs_5k", "sbs_15k"):
            spec = types[block]
            assert (spec.min_size, spec.chunk_size, spec.storage_class) == (5 * GB, 5 * GB, "sbs")
            assert spec.max_size == 10_000 * GB


def test_find_node_type_is_case_insensitive(catalog: Catalog) -> None:
    assert node(catalog, "DB-DEV-S").name == "db-dev-s"
    assert node(catalog, "Db-Pro2-XXS").name == "db-pro2-xxs"
    assert find_node_type(catalog, "db-dev-xxl") is None


# --- engines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "engine", "family", "image", "port"),
    [
        ("PostgreSQL-17", "PostgreSQL", EngineKind.POSTGRESQL, "dbaas/postgresql:17", 5432),
        ("PostgreSQL-15", "PostgreSQL", EngineKind.POSTGRESQL, "dbaas/postgresql:15", 5432),
        ("MariaDB-11.8", "MariaDB", EngineKind.MYSQL, "dbaas/mariadb:11.8", 3306),
        ("MariaDB-10.11", "MariaDB", EngineKind.MYSQL, "dbaas/mariadb:10.11", 3306),
    ],
)
def test_engine_versions(
    catalog: Catalog, name: str, engine: str, family: EngineKind, image: str, port: int
) -> None:
    found = version(catalog, name)
    assert (found.engine_name, found.family, found.image, found.port) == (
        engine,
        family,
        image,
        port,
    )
    assert found.end_of_life is not None and found.end_of_life.tzinfo is not None
    assert found.release_date is None


def test_versions_are_newest_first(catalog: Catalog) -> None:
    assert [e.name for e in catalog.engines] == ["PostgreSQL", "MariaDB"]
    assert [v.version for v in catalog.engines[0].versions] == ["17", "15"]
    assert [v.version for v in catalog.engines[1].versions] == ["11.8", "10.11"]
    assert version(catalog, "PostgreSQL-15").end_of_life == datetime(2027, 11, 11, tzinfo=UTC)


def test_find_engine_version(catalog: Catalog) -> None:
    assert version(catalog, "postgresql-15").name == "PostgreSQL-15"
    assert version(catalog, "MARIADB-10.11").name == "MariaDB-10.11"
    assert find_engine_version(catalog, "PostgreSQL-16") is None
    assert find_engine_version(catalog, "MySQL-8") is None
    pg17 = version(catalog, "PostgreSQL-17")
    assert find_engine_version_by_id(catalog, pg17.id.upper()) is pg17
    family = find_engine_family(catalog, "mariadb")
    assert family is not None and family.port == 3306


def test_upgradable_versions(catalog: Catalog) -> None:
    pg15, pg17 = version(catalog, "PostgreSQL-15"), version(catalog, "PostgreSQL-17")
    assert upgradable_versions(catalog, pg15) == (pg17,)
    assert upgradable_versions(catalog, pg17) == ()
    mariadb = version(catalog, "MariaDB-10.11")
    assert [v.name for v in upgradable_versions(catalog, mariadb)] == ["MariaDB-11.8"]


def test_every_setting_default_is_valid(catalog: Catalog) -> None:
    for engine_version in catalog.engine_versions():
        settings = engine_version.available_settings + engine_version.available_init_settings
        assert settings
        for setting in settings:
            parse_setting_value(setting, setting.default_value)
            assert setting.engine_name
            if setting.property_type is PropertyType.INT:
                assert setting.int_min is not None and setting.int_max is not None
                assert -(2**31) <= setting.int_min <= setting.int_max < 2**31
            if setting.property_type is PropertyType.FLOAT:
                assert setting.float_min is not None and setting.float_max is not None
        pairs = [(s.name, s.default_value) for s in engine_version.available_settings]
        assert validate_settings(engine_version, pairs) == []
        init_pairs = [(s.name, s.default_value) for s in engine_version.available_init_settings]
        assert validate_settings(engine_version, init_pairs, init=True) == []


def test_expected_settings_exist(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-17")
    for name in (
        "max_connections",
        "work_mem",
        "maintenance_work_mem",
        "effective_cache_size",
        "max_parallel_workers",
        "max_parallel_workers_per_gather",
        "timezone",
        "log_min_duration_statement",
        "log_statement",
        "default_transaction_isolation",
        "autovacuum",
        "statement_timeout",
        "idle_in_transaction_session_timeout",
    ):
        assert pg.setting(name) is not None, name
    work_mem = pg.setting("work_mem")
    assert work_mem is not None
    assert (work_mem.int_min, work_mem.int_max, work_mem.default_value) == (1, 1024, "4")
    assert work_mem.hot_configurable and work_mem.engine_unit == "MB"
    max_connections = pg.setting("max_connections")
    assert max_connections is not None and not max_connections.hot_configurable
    assert {s.name for s in pg.available_init_settings} == {"lc_collate", "lc_ctype", "timezone"}
    lc_collate = pg.init_setting("lc_collate")
    assert lc_collate is not None and lc_collate.apply is ApplyVia.INITDB

    mariadb = version(catalog, "MariaDB-11.8")
    long_query_time = mariadb.setting("long_query_time")
    assert long_query_time is not None
    assert long_query_time.property_type is PropertyType.FLOAT
    assert (long_query_time.float_min, long_query_time.float_max) == (0.0, 3600.0)
    assert [s.name for s in mariadb.available_init_settings] == ["lower_case_table_names"]


# --- defaults ---------------------------------------------------------------------------------


def test_default_settings_match_scaleway_on_db_dev_s(catalog: Catalog) -> None:
    dev_s = node(catalog, "db-dev-s")
    assert default_settings(version(catalog, "PostgreSQL-15"), dev_s) == [
        ("effective_cache_size", "1300"),
        ("maintenance_work_mem", "150"),
        ("max_connections", "100"),
        ("max_parallel_workers", "0"),
        ("max_parallel_workers_per_gather", "0"),
        ("work_mem", "4"),
    ]
    assert default_settings(version(catalog, "MariaDB-11.8"), dev_s) == [("max_connections", "100")]


def test_default_settings_scale_with_memory_and_stay_valid(catalog: Catalog) -> None:
    defaults = dict(default_settings(version(catalog, "PostgreSQL-17"), node(catalog, "db-gp-m")))
    assert defaults["effective_cache_size"] == "41600"  # 65% of 64 000 MB
    assert defaults["maintenance_work_mem"] == "1024"  # 7.5% would be 4800: clamped to int_max
    for engine_version in catalog.engine_versions():
        for node_type in catalog.node_types:
            assert (
                validate_settings(engine_version, default_settings(engine_version, node_type)) == []
            )


# --- validation -------------------------------------------------------------------------------


def test_valid_settings_pass(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-17")
    settings = [
        Setting("work_mem", "64"),
        Setting("autovacuum", "OFF"),
        Setting("random_page_cost", "1.1"),
        Setting("timezone", "Europe/Paris"),
        Setting("log_statement", "ddl"),
        Setting("default_transaction_isolation", "repeatable read"),
        Setting("log_min_duration_statement", "-1"),
    ]
    assert validate_settings(pg, settings) == []
    mariadb = version(catalog, "MariaDB-10.11")
    assert (
        validate_settings(
            mariadb,
            [
                ("sql_mode", "STRICT_ALL_TABLES,ONLY_FULL_GROUP_BY"),
                ("slow_query_log", "true"),
                ("long_query_time", "0.5"),
                ("default_time_zone", "+02:00"),
                ("max_allowed_packet", "67108864"),
            ],
        )
        == []
    )
    assert validate_settings(mariadb, [("sql_mode", "")]) == []


def test_validation_names_the_offending_argument(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-17")
    errors = validate_settings(
        pg,
        [
            Setting("no_such_setting", "1"),  # unknown name
            Setting("work_mem", "2048"),  # out of range
            Setting("log_statement", "everything"),  # regex mismatch
            Setting("max_connections", "100MB"),  # not an integer
            Setting("autovacuum", "maybe"),  # not a boolean
            Setting("random_page_cost", "nan"),  # not a finite number
            Setting("timezone", "Mars/Olympus_Mons"),  # not a time zone
            Setting("work_mem", "8"),  # duplicate
            Setting("statement_timeout", None),  # no value
            Setting("lc_collate", "C"),  # init setting, not a setting
        ],
    )
    assert errors_by_argument(errors) == {
        "settings.0.name": "constraint",
        "settings.1.value": "constraint",
        "settings.2.value": "constraint",
        "settings.3.value": "constraint",
        "settings.4.value": "constraint",
        "settings.5.value": "constraint",
        "settings.6.value": "constraint",
        "settings.7.name": "constraint",
        "settings.8.value": "required",
        "settings.9.name": "constraint",
    }
    messages = {e.argument_name: e.help_message for e in errors}
    assert "between 1 and 1024" in messages["settings.1.value"]
    assert "init_settings" in messages["settings.9.name"]
    assert all(e.help_message for e in errors)


def test_init_settings_validation(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-15")
    assert validate_settings(pg, [("lc_collate", "C.UTF-8"), ("timezone", "UTC")], init=True) == []
    errors = validate_settings(pg, [("lc_ctype", "en_US.UTF-8"), ("work_mem", "8")], init=True)
    assert errors_by_argument(errors) == {
        "init_settings.0.value": "constraint",
        "init_settings.1.name": "constraint",
    }
    mariadb = version(catalog, "MariaDB-11.8")
    assert validate_settings(mariadb, [("lower_case_table_names", "1")], init=True) == []
    errors = validate_settings(mariadb, [("lower_case_table_names", "2")], init=True)
    assert errors_by_argument(errors) == {"init_settings.0.value": "constraint"}
    errors = validate_settings(mariadb, [("lower_case_table_names", "1")])
    assert errors_by_argument(errors) == {"settings.0.name": "constraint"}


def test_validation_argument_prefix_can_be_chosen(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-17")
    errors = validate_settings(pg, [("work_mem", "0")], field="body.settings")
    assert [e.argument_name for e in errors] == ["body.settings.0.value"]


@pytest.mark.parametrize(
    "value",
    ["SYSTEM", "+00:00", "-12:59", "+13:00", "+5:30"],
)
def test_mariadb_time_zone_accepts_offsets(catalog: Catalog, value: str) -> None:
    assert validate_settings(version(catalog, "MariaDB-11.8"), [("default_time_zone", value)]) == []


@pytest.mark.parametrize("value", ["Europe/Paris", "UTC", "+14:00", "-13:00", "+02:60"])
def test_mariadb_time_zone_refuses_what_it_cannot_apply(catalog: Catalog, value: str) -> None:
    errors = validate_settings(version(catalog, "MariaDB-11.8"), [("default_time_zone", value)])
    assert errors_by_argument(errors) == {"settings.0.value": "constraint"}


@pytest.mark.parametrize("value", ["ORACLE", "STRICT_TRANS_TABLES,", "strict", "A'B"])
def test_mariadb_sql_mode_refuses(catalog: Catalog, value: str) -> None:
    errors = validate_settings(version(catalog, "MariaDB-11.8"), [("sql_mode", value)])
    assert len(errors) == 1


def test_parse_and_render_values(catalog: Catalog) -> None:
    pg = version(catalog, "PostgreSQL-17")
    mariadb = version(catalog, "MariaDB-11.8")
    work_mem, autovacuum = pg.setting("work_mem"), pg.setting("autovacuum")
    statement_timeout, timezone = pg.setting("statement_timeout"), pg.setting("timezone")
    long_query_time = mariadb.setting("long_query_time")
    wait_timeout = mariadb.setting("wait_timeout")
    assert work_mem and autovacuum and statement_timeout and timezone
    assert long_query_time and wait_timeout
    assert parse_setting_value(work_mem, " 16 ") == 16
    assert parse_setting_value(autovacuum, "On") is True
    assert parse_setting_value(long_query_time, "2.5") == 2.5
    assert engine_value(work_mem, "16") == "16MB"
    assert engine_value(statement_timeout, "5000") == "5000ms"
    assert engine_value(autovacuum, "false") == "off"
    assert engine_value(timezone, "Europe/Paris") == "Europe/Paris"
    assert engine_value(long_query_time, "2.5") == "2.5"
    assert engine_value(wait_timeout, "600") == "600"


# --- volumes ----------------------------------------------------------------------------------


def test_lssd_size_is_fixed_by_the_node_type(catalog: Catalog) -> None:
    dev_s, dev_m = node(catalog, "db-dev-s"), node(catalog, "db-dev-m")
    assert validate_volume(dev_s, "lssd", 0) == []
    assert validate_volume(dev_s, "lssd", None) == []
    assert validate_volume(dev_s, "lssd", 5 * GB) == []
    assert errors_by_argument(validate_volume(dev_s, "lssd", 25 * GB)) == {
        "volume_size": "constraint"
    }
    assert effective_volume_size(dev_s, "lssd", 0) == 5 * GB
    assert effective_volume_size(dev_m, "lssd", 0) == 25 * GB


def test_block_volume_rules(catalog: Catalog) -> None:
    pico = node(catalog, "db-play2-pico")
    assert validate_volume(pico, "sbs_5k", 10 * GB) == []
    assert validate_volume(pico, "sbs_15k", 10_000 * GB) == []
    assert effective_volume_size(pico, "sbs_5k", 10 * GB) == 10 * GB
    cases = {
        0: "required",
        None: "required",
        7 * GB: "constraint",  # not a multiple of 5 GB
        10_005 * GB: "constraint",  # above the maximum
        1 * GB: "constraint",  # below the minimum
    }
    for size, reason in cases.items():
        assert errors_by_argument(validate_volume(pico, "sbs_5k", size)) == {"volume_size": reason}
    assert errors_by_argument(validate_volume(pico, "bssd", 10 * GB)) == {
        "volume_type": "constraint"
    }
    assert validate_volume(node(catalog, "db-dev-s"), "bssd", 10 * GB) == []
    with pytest.raises(ValueError):
        effective_volume_size(pico, "bssd", 10 * GB)
