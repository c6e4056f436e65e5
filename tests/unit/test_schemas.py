"""Wire schemas: exact keys, omit-vs-null, and round trips through the official Python SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from scaleway.rdb.v1 import marshalling as sdk
from scaleway.rdb.v1 import types as sdk_types
from scaleway_core.bridge.scwfile import unmarshal_ScwFile
from scaleway_core.profile import ProfileDefaults

from controlplane.api.schemas.common import InstanceSetting, ScwFile, rfc3339, to_wire
from controlplane.api.schemas.endpoints import (
    Endpoint,
    EndpointDirectAccessDetails,
    EndpointLoadBalancerDetails,
    EndpointPrivateNetworkDetails,
    EndpointSpec,
    ReadReplicaEndpointSpec,
)
from controlplane.api.schemas.engines import (
    ListDatabaseEnginesResponse,
    engine_from_catalog,
    upgradable_version_from_catalog,
)
from controlplane.api.schemas.enums import (
    EndpointPrivateNetworkDetailsProvisioningMode,
    HighAvailabilityMode,
    InstanceStatus,
    MaintenanceStatus,
    ReadReplicaStatus,
    StorageClass,
    VolumeType,
)
from controlplane.api.schemas.instances import (
    BackupSchedule,
    CreateInstanceRequest,
    Instance,
    ListInstancesResponse,
    Maintenance,
    UpdateInstanceRequest,
    UpgradeInstanceRequest,
    Volume,
)
from controlplane.api.schemas.node_types import ListNodeTypesResponse, node_type_from_catalog
from controlplane.api.schemas.read_replicas import CreateReadReplicaRequest, ReadReplica
from controlplane.catalog import find_engine_version, load_catalog

PROJECT = "11111111-1111-4111-8111-111111111111"
PN = "22222222-2222-4222-8222-222222222222"
CREATED = datetime(2025, 1, 7, 14, 51, 47, 692290, tzinfo=UTC)

INSTANCE_KEYS = {
    "id",
    "name",
    "organization_id",
    "project_id",
    "status",
    "engine",
    "upgradable_version",
    "endpoint",
    "tags",
    "settings",
    "backup_schedule",
    "is_ha_cluster",
    "high_availability_mode",
    "read_replicas",
    "node_type",
    "volume",
    "init_settings",
    "endpoints",
    "logs_policy",
    "backup_same_region",
    "maintenances",
    "encryption",
    "created_at",
    "region",
}


def lb_endpoint() -> Endpoint:
    return Endpoint(
        id="0b706ab8-0000-4000-8000-000000000001",
        ip="51.159.74.117",
        port=5012,
        load_balancer=EndpointLoadBalancerDetails(),
    )


def pn_endpoint() -> Endpoint:
    return Endpoint(
        id="6847efb9-0000-4000-8000-000000000002",
        ip="172.16.0.3",
        port=5432,
        private_network=EndpointPrivateNetworkDetails(
            private_network_id=PN, service_ip="172.16.0.3/22", zone="fr-par-1"
        ),
    )


def replica() -> ReadReplica:
    return ReadReplica(
        id="c7520000-0000-4000-8000-000000000003",
        endpoints=[
            Endpoint(
                id="fbdb0000-0000-4000-8000-000000000004",
                ip="163.172.129.167",
                port=5432,
                direct_access=EndpointDirectAccessDetails(),
            )
        ],
        status=ReadReplicaStatus.READY,
        region="fr-par",
        same_zone=True,
        instance_id="2e1736e5-1344-4e70-a427-b46ca4c1dce2",
    )


def instance() -> Instance:
    catalog = load_catalog()
    pg15 = find_engine_version(catalog, "PostgreSQL-15")
    pg17 = find_engine_version(catalog, "PostgreSQL-17")
    assert pg15 is not None and pg17 is not None
    return Instance(
        id="2e1736e5-1344-4e70-a427-b46ca4c1dce2",
        name="cli-test",
        organization_id=PROJECT,
        project_id=PROJECT,
        status=InstanceStatus.READY,
        engine=pg15.name,
        upgradable_version=[upgradable_version_from_catalog(pg17)],
        endpoint=lb_endpoint(),
        tags=["a"],
        settings=[InstanceSetting(name="max_connections", value="100")],
        backup_schedule=BackupSchedule(next_run_at=CREATED + timedelta(days=1)),
        read_replicas=[replica()],
        node_type="db-dev-s",
        volume=Volume(volume_type=VolumeType.LSSD, size=5_000_000_000),
        endpoints=[pn_endpoint(), lb_endpoint()],
        maintenances=[Maintenance(reason="minor upgrade", status=MaintenanceStatus.PENDING)],
        created_at=CREATED,
        region="fr-par",
    )


def json_round_trip(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data))


# --- response shapes --------------------------------------------------------------------------


def test_instance_has_every_key() -> None:
    wire = to_wire(instance())
    assert set(wire) == INSTANCE_KEYS
    assert wire["created_at"] == "2025-01-07T14:51:47.692290Z"
    assert wire["backup_schedule"] == {
        "frequency": 24,
        "retention": 7,
        "disabled": False,
        "next_run_at": "2025-01-08T14:51:47.692290Z",
    }
    assert wire["volume"] == {"type": "lssd", "size": 5_000_000_000, "class": "lssd"}
    assert wire["logs_policy"] == {"max_age_retention": 30, "total_disk_retention": None}
    assert wire["encryption"] == {"enabled": False}
    assert wire["high_availability_mode"] == "unknown_high_availability_mode"
    assert wire["maintenances"][0] == {
        "starts_at": None,
        "stops_at": None,
        "closed_at": None,
        "reason": "minor upgrade",
        "status": "pending",
        "forced_at": None,
        "is_applicable": False,
    }
    assert wire["upgradable_version"][0]["name"] == "PostgreSQL-17"
    assert json_round_trip(wire) == wire


def test_instance_nullable_keys_stay_present() -> None:
    wire = to_wire(instance().model_copy(update={"endpoint": None, "endpoints": []}))
    assert set(wire) == INSTANCE_KEYS
    assert wire["endpoint"] is None


def test_endpoint_oneof_keys() -> None:
    lb = to_wire(lb_endpoint())
    assert lb == {
        "id": "0b706ab8-0000-4000-8000-000000000001",
        "ip": "51.159.74.117",
        "port": 5012,
        "name": None,
        "load_balancer": {},
    }
    pn = to_wire(pn_endpoint())
    assert "load_balancer" not in pn and "direct_access" not in pn and "hostname" not in pn
    assert pn["private_network"] == {
        "private_network_id": PN,
        "service_ip": "172.16.0.3/22",
        "zone": "fr-par-1",
        "provisioning_mode": "static",
    }
    direct = to_wire(replica())["endpoints"][0]
    assert set(direct) == {"id", "ip", "port", "name", "direct_access"}
    named = to_wire(lb_endpoint().model_copy(update={"hostname": "db.example"}))
    assert named["hostname"] == "db.example"


def test_endpoint_needs_exactly_one_kind() -> None:
    with pytest.raises(ValidationError):
        Endpoint(id="x", ip="1.2.3.4", port=1)
    with pytest.raises(ValidationError):
        Endpoint(
            id="x",
            ip="1.2.3.4",
            port=1,
            load_balancer=EndpointLoadBalancerDetails(),
            direct_access=EndpointDirectAccessDetails(),
        )


def test_timestamps_are_utc_with_z() -> None:
    assert rfc3339(datetime(2030, 1, 1)) == "2030-01-01T00:00:00Z"
    paris = timezone(timedelta(hours=2))
    assert rfc3339(datetime(2030, 1, 1, 2, 0, 0, 5, tzinfo=paris)) == "2030-01-01T00:00:00.000005Z"
    naive = instance().model_copy(update={"created_at": datetime(2030, 1, 1)})
    assert to_wire(naive)["created_at"] == "2030-01-01T00:00:00Z"


def test_volume_class_follows_type() -> None:
    assert Volume(volume_type=VolumeType.SBS_15K, size=10).storage_class is StorageClass.SBS
    assert to_wire(Volume.model_validate({"type": "bssd", "size": 5})) == {
        "type": "bssd",
        "size": 5,
        "class": "bssd",
    }


def test_responses_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ReadReplica.model_validate({**to_wire(replica()), "surprise": 1})


def test_response_model_in_fastapi_gives_the_same_json() -> None:
    app = FastAPI()
    model = instance()

    @app.get("/instance", response_model=Instance)
    def _get() -> Instance:
        return model

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/instance")

    assert anyio.run(call).json() == to_wire(model)


# --- through the SDK's unmarshalling ----------------------------------------------------------


def test_sdk_reads_an_instance() -> None:
    parsed = sdk.unmarshal_Instance(json_round_trip(to_wire(instance())))
    assert parsed.status == "ready" and parsed.node_type == "db-dev-s"
    assert parsed.engine == "PostgreSQL-15"
    assert parsed.created_at == CREATED
    assert parsed.volume is not None and parsed.volume.type_ == "lssd"
    assert parsed.volume.size == 5_000_000_000 and parsed.volume.class_ == "lssd"
    assert parsed.backup_schedule is not None and parsed.backup_schedule.next_run_at is not None
    assert parsed.endpoint is not None and parsed.endpoint.load_balancer is not None
    pn, lb = parsed.endpoints
    assert pn.private_network is not None and pn.load_balancer is None
    assert pn.private_network.provisioning_mode == "static"
    assert lb.load_balancer is not None and lb.private_network is None
    assert parsed.read_replicas[0].endpoints[0].direct_access is not None
    assert parsed.upgradable_version[0].minor_version
    assert parsed.settings[0].value == "100"
    assert parsed.encryption is not None and parsed.encryption.enabled is False
    assert parsed.logs_policy is not None and parsed.logs_policy.max_age_retention == 30
    assert parsed.maintenances[0].status == "pending"


def test_sdk_reads_a_list_of_instances() -> None:
    wire = to_wire(ListInstancesResponse(instances=[instance()], total_count=1))
    parsed = sdk.unmarshal_ListInstancesResponse(json_round_trip(wire))
    assert parsed.total_count == 1 and parsed.instances[0].id == instance().id


def test_sdk_reads_a_read_replica() -> None:
    parsed = sdk.unmarshal_ReadReplica(json_round_trip(to_wire(replica())))
    assert parsed.status == "ready" and parsed.same_zone is True
    assert parsed.endpoints[0].direct_access is not None
    assert parsed.endpoints[0].ip == "163.172.129.167"


def test_sdk_reads_the_node_types() -> None:
    catalog = load_catalog()
    wire = to_wire(
        ListNodeTypesResponse(
            node_types=[node_type_from_catalog(n, "fr-par") for n in catalog.node_types],
            total_count=len(catalog.node_types),
        )
    )
    parsed = sdk.unmarshal_ListNodeTypesResponse(json_round_trip(wire))
    assert parsed.total_count == 15
    by_name = {n.name: n for n in parsed.node_types}
    dev_s = by_name["db-dev-s"]
    assert (dev_s.vcpus, dev_s.memory, dev_s.region) == (2, 2_000_000_000, "fr-par")
    assert dev_s.generation == "generation_v1" and dev_s.stock_status == "available"
    lssd = next(v for v in dev_s.available_volume_types if v.type_ == "lssd")
    assert (lssd.min_size, lssd.max_size, lssd.class_) == (5_000_000_000, 5_000_000_000, "lssd")
    assert all(name == name.lower() for name in by_name)
    pico = wire["node_types"][0]
    assert "volume_constraint" not in pico and "is_bssd_compatible" not in pico
    assert wire["node_types"][2]["is_bssd_compatible"] is True


def test_sdk_reads_the_engines() -> None:
    catalog = load_catalog()
    wire = to_wire(
        ListDatabaseEnginesResponse(
            engines=[engine_from_catalog(e, "fr-par") for e in catalog.engines],
            total_count=len(catalog.engines),
        )
    )
    raw_setting = wire["engines"][0]["versions"][0]["available_settings"][0]
    assert set(raw_setting) == {
        "name",
        "default_value",
        "hot_configurable",
        "description",
        "property_type",
        "unit",
        "string_constraint",
        "int_min",
        "int_max",
        "float_min",
        "float_max",
    }
    parsed = sdk.unmarshal_ListDatabaseEnginesResponse(json_round_trip(wire))
    assert parsed.total_count == 2
    postgres, mariadb = parsed.engines
    assert [v.name for v in postgres.versions] == ["PostgreSQL-17", "PostgreSQL-15"]
    assert [v.name for v in mariadb.versions] == ["MariaDB-11.8", "MariaDB-10.11"]
    pg17 = postgres.versions[0]
    assert pg17.end_of_life == datetime(2029, 11, 8, tzinfo=UTC)
    assert pg17.release_date is None
    settings = {s.name: s for s in pg17.available_settings}
    assert settings["work_mem"].property_type == "INT"
    assert (settings["work_mem"].int_min, settings["work_mem"].int_max) == (1, 1024)
    assert settings["autovacuum"].property_type == "BOOLEAN"
    assert settings["log_statement"].string_constraint
    long_query_time = next(
        s for s in mariadb.versions[0].available_settings if s.name == "long_query_time"
    )
    assert long_query_time.property_type == "FLOAT"
    assert long_query_time.float_max == 3600.0
    assert mariadb.versions[0].available_init_settings[0].name == "lower_case_table_names"
    property_types = {
        s["property_type"]
        for e in wire["engines"]
        for v in e["versions"]
        for s in v["available_settings"]
    }
    assert property_types == {"BOOLEAN", "INT", "STRING", "FLOAT"}


def test_sdk_reads_the_certificate() -> None:
    wire = to_wire(
        ScwFile(name="ssl_certificate", content_type="application/x-pem-file", content="TFM=")
    )
    assert unmarshal_ScwFile(wire).content == "TFM="


# --- requests, as the SDK sends them ----------------------------------------------------------


def sdk_body(marshal: Any, request: Any, project: str | None = PROJECT) -> Any:
    return json_round_trip(marshal(request, ProfileDefaults(default_project_id=project)))


def test_create_instance_from_the_python_sdk() -> None:
    request = sdk_types.CreateInstanceRequest(
        engine="PostgreSQL-17",
        user_name="admin",
        password="Passw0rd!",
        node_type="DB-PLAY2-PICO",
        is_ha_cluster=True,
        disable_backup=True,
        volume_size=10_000_000_000,
        backup_same_region=True,
        name="mydb",
        high_availability_mode=sdk_types.HighAvailabilityMode.SINGLE_ZONE,
        tags=["t1"],
        init_settings=[sdk_types.InstanceSetting(name="timezone", value="UTC")],
        volume_type=sdk_types.VolumeType.SBS_5K,
        init_endpoints=[
            sdk_types.EndpointSpec(load_balancer=sdk_types.EndpointSpecLoadBalancer()),
            sdk_types.EndpointSpec(
                private_network=sdk_types.EndpointSpecPrivateNetwork(
                    private_network_id=PN,
                    ipam_config=sdk_types.EndpointSpecPrivateNetworkIpamConfig(),
                )
            ),
            sdk_types.EndpointSpec(
                private_network=sdk_types.EndpointSpecPrivateNetwork(
                    private_network_id=PN, service_ip="10.0.0.5/24"
                )
            ),
        ],
        encryption=sdk_types.EncryptionAtRest(enabled=True),
    )
    body = sdk_body(sdk.marshal_CreateInstanceRequest, request)
    parsed = CreateInstanceRequest.model_validate(body)
    assert parsed.project_id == PROJECT and parsed.organization_id is None
    assert parsed.node_type == "DB-PLAY2-PICO" and parsed.engine == "PostgreSQL-17"
    assert parsed.high_availability_mode is HighAvailabilityMode.SINGLE_ZONE
    assert parsed.volume_type is VolumeType.SBS_5K and parsed.volume_size == 10_000_000_000
    assert parsed.init_settings == [InstanceSetting(name="timezone", value="UTC")]
    assert parsed.tags == ["t1"] and parsed.encryption.enabled is True
    lb, ipam, static = parsed.init_endpoints
    assert lb.load_balancer is not None and lb.private_network is None
    assert ipam.private_network is not None
    assert (
        ipam.private_network.provisioning_mode is EndpointPrivateNetworkDetailsProvisioningMode.IPAM
    )
    assert static.private_network is not None
    assert static.private_network.service_ip == "10.0.0.5/24"


def test_create_instance_minimal_python_sdk_call() -> None:
    request = sdk_types.CreateInstanceRequest(
        engine="PostgreSQL-15",
        user_name="",
        password="",
        node_type="db-dev-s",
        is_ha_cluster=False,
        disable_backup=False,
        volume_size=0,
        backup_same_region=False,
        tags=None,
        init_settings=None,
        volume_type=None,
        init_endpoints=None,
        high_availability_mode=None,
    )
    body = sdk_body(sdk.marshal_CreateInstanceRequest, request, project=None)
    assert "project_id" not in body and "volume_type" not in body
    parsed = CreateInstanceRequest.model_validate(body)
    assert parsed.volume_type is VolumeType.LSSD and parsed.volume_size == 0
    assert parsed.tags == [] and parsed.init_settings == [] and parsed.init_endpoints == []
    assert parsed.high_availability_mode is HighAvailabilityMode.UNKNOWN_HIGH_AVAILABILITY_MODE
    assert parsed.encryption.enabled is False
    assert parsed.user_name == "" and parsed.name is None


def test_create_instance_from_go_with_nulls_and_strings() -> None:
    body = {
        "organization_id": PROJECT,
        "name": "test-rdb",
        "engine": "PostgreSQL-16",
        "user_name": "test_user",
        "password": "thiZ_is_v&ry_s3cret",
        "node_type": "db-dev-s",
        "is_ha_cluster": False,
        "high_availability_mode": "unknown_high_availability_mode",
        "disable_backup": True,
        "tags": None,
        "init_settings": None,
        "volume_type": "sbs_5k",
        "volume_size": "30000000000",
        "init_endpoints": None,
        "backup_same_region": False,
        "encryption": None,
        "some_future_field": {"x": 1},
    }
    parsed = CreateInstanceRequest.model_validate(body)
    assert parsed.organization_id == PROJECT and parsed.project_id is None
    assert parsed.volume_size == 30_000_000_000
    assert parsed.tags == [] and parsed.init_endpoints == []
    assert parsed.encryption.enabled is False


def test_create_instance_refuses_bad_shapes() -> None:
    base = {"engine": "PostgreSQL-17", "node_type": "db-dev-s"}
    assert CreateInstanceRequest.model_validate(base).volume_type is VolumeType.LSSD
    bad_bodies: list[dict[str, Any]] = [
        {"volume_size": -5},
        {"volume_size": "ten"},
        {"volume_type": "floppy"},
        {"init_endpoints": [{}]},
        {"init_endpoints": [{"load_balancer": {}, "private_network": {"private_network_id": PN}}]},
        {
            "init_endpoints": [
                {
                    "private_network": {
                        "private_network_id": PN,
                        "service_ip": "10.0.0.5/24",
                        "ipam_config": {},
                    }
                }
            ]
        },
        {"init_endpoints": [{"private_network": {"private_network_id": PN, "service_ip": "x"}}]},
    ]
    for bad in bad_bodies:
        with pytest.raises(ValidationError):
            CreateInstanceRequest.model_validate({**base, **bad})
    with pytest.raises(ValidationError):
        CreateInstanceRequest.model_validate({"engine": "PostgreSQL-17"})


def test_instance_setting_values_become_strings() -> None:
    assert InstanceSetting.model_validate({"name": "work_mem", "value": 8}).value == "8"


def test_update_instance_from_the_python_sdk() -> None:
    request = sdk_types.UpdateInstanceRequest(
        instance_id="x",
        backup_schedule_frequency=12,
        backup_schedule_retention=3,
        is_backup_schedule_disabled=False,
        name="renamed",
        tags=["x"],
        logs_policy=sdk_types.LogsPolicy(max_age_retention=7, total_disk_retention=1_000_000),
        backup_same_region=True,
        backup_schedule_start_hour=4,
    )
    parsed = UpdateInstanceRequest.model_validate(
        sdk_body(sdk.marshal_UpdateInstanceRequest, request)
    )
    assert parsed.backup_schedule_frequency == 12 and parsed.backup_schedule_start_hour == 4
    assert parsed.logs_policy is not None and parsed.logs_policy.total_disk_retention == 1_000_000
    assert parsed.tags == ["x"] and parsed.name == "renamed"
    only_name = UpdateInstanceRequest.model_validate({"name": "n"})
    assert only_name.model_fields_set == {"name"} and only_name.tags is None
    with pytest.raises(ValidationError):
        UpdateInstanceRequest.model_validate({"backup_schedule_start_hour": 24})


def test_create_read_replica_from_the_python_sdk() -> None:
    request = sdk_types.CreateReadReplicaRequest(
        instance_id="2e1736e5-1344-4e70-a427-b46ca4c1dce2",
        endpoint_spec=[
            sdk_types.ReadReplicaEndpointSpec(
                direct_access=sdk_types.ReadReplicaEndpointSpecDirectAccess()
            ),
            sdk_types.ReadReplicaEndpointSpec(
                private_network=sdk_types.ReadReplicaEndpointSpecPrivateNetwork(
                    private_network_id=PN, service_ip="10.0.0.6/24"
                )
            ),
        ],
        same_zone=False,
    )
    parsed = CreateReadReplicaRequest.model_validate(
        sdk_body(sdk.marshal_CreateReadReplicaRequest, request)
    )
    direct, private = parsed.endpoint_spec
    assert direct.direct_access is not None and private.private_network is not None
    assert parsed.same_zone is False
    bare = CreateReadReplicaRequest.model_validate({"instance_id": "i", "endpoint_spec": None})
    assert bare.endpoint_spec == [] and bare.same_zone is True
    with pytest.raises(ValidationError):
        ReadReplicaEndpointSpec.model_validate({})
    with pytest.raises(ValidationError):
        ReadReplicaEndpointSpec.model_validate({"load_balancer": {}})


def test_endpoint_spec_from_the_python_sdk() -> None:
    spec = sdk_types.EndpointSpec(load_balancer=sdk_types.EndpointSpecLoadBalancer())
    parsed = EndpointSpec.model_validate(sdk_body(sdk.marshal_EndpointSpec, spec))
    assert parsed.load_balancer is not None
    no_address = EndpointSpec.model_validate({"private_network": {"private_network_id": PN}})
    assert no_address.private_network is not None
    assert no_address.private_network.provisioning_mode == "ipam"


def test_upgrade_instance_takes_exactly_one_target() -> None:
    assert UpgradeInstanceRequest.model_validate({"node_type": "db-dev-m"}).target == "node_type"
    parsed = UpgradeInstanceRequest.model_validate(
        {"major_upgrade_workflow": {"upgradable_version_id": "v", "with_endpoints": True}}
    )
    assert parsed.target == "major_upgrade_workflow"
    assert UpgradeInstanceRequest.model_validate({"volume_size": "20000000000"}).volume_size == (
        20_000_000_000
    )
    bad_bodies: list[dict[str, Any]] = [{}, {"node_type": "db-dev-m", "volume_size": 10}]
    for bad in bad_bodies:
        with pytest.raises(ValidationError):
            UpgradeInstanceRequest.model_validate(bad)
