"""The official JavaScript SDK (`@scaleway/sdk`, pinned in tests/js/package-lock.json) against
our API: tests/js/conformance.mjs drives every routed RDB operation on one standalone PostgreSQL
instance (real worker, real containers) and reports what the SDK made of each answer; the tests
below check that report field by field, one group of operations each.

The JS client differs from the Python one where it matters: it parses a body only when the
Content-Type is exactly `application/json`, pages `.all()` by `total_count`, maps error bodies to
typed errors only when their keys are complete (`resource` + `resource_id` for not_found), and
downloads the certificate as a raw file (`?dl=1`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest
from cryptography import x509
from scaleway import ScalewayException
from scaleway.rdb.v1 import RdbV1API

from tests.e2e.conftest import instance_resources
from tests.support import rdb_operations
from tests.support.instances import wait
from tests.support.tenants import Tenant

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "tests" / "js"
SDK_VERSION = "2.78.0"
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"  # as in conformance.mjs
ADMIN, APP_USER, DATABASE = "js_admin", "js_app", "js-db"

pytestmark = pytest.mark.docker

Report = dict[str, Any]


def _install_sdk() -> None:
    """npm ci of the pinned SDK, unless deploy/lab.sh already did it for this lock file."""
    subprocess.run([str(ROOT / "deploy" / "lab.sh"), "js-sdk"], check=True, timeout=300)


def _sweep(rdb: RdbV1API, name: str) -> list[str]:
    """Deletes what a failed run left behind (every instance named like ours); returns their ids."""
    left = [i for i in rdb.list_instances_all() if i.name.startswith(name)]
    for instance in left:
        try:
            rdb.wait_for_instance(instance_id=instance.id, options=wait())
            rdb.delete_instance(instance_id=instance.id)
            rdb.wait_for_instance(instance_id=instance.id, options=wait())
        except ScalewayException as gone:
            assert gone.status_code == 404, gone
    return [i.id for i in left]


@pytest.fixture(scope="module")
def report(
    api_url: str, tenant: Tenant, rdb: RdbV1API, docker_client: docker.DockerClient
) -> Iterator[Report]:
    _install_sdk()
    name = f"js-{os.environ['DBAAS_RESOURCE_PREFIX']}"
    env = {
        **os.environ,
        "SCW_API_URL": api_url,
        "SCW_ACCESS_KEY": tenant.access_key,
        "SCW_SECRET_KEY": tenant.secret_key,
        "SCW_DEFAULT_PROJECT_ID": tenant.project_id,
        "SCW_DEFAULT_ORGANIZATION_ID": tenant.organization_id,
        "SCW_DEFAULT_REGION": "fr-par",
        "DBAAS_JS_NAME": name,
        "DBAAS_JS_OPERATIONS": ",".join(sorted(rdb_operations.implemented())),
    }
    try:
        run = subprocess.run(
            ["node", "conformance.mjs"], cwd=JS_DIR, env=env, capture_output=True, timeout=900
        )
    finally:
        leftovers = _sweep(rdb, name)
    stderr = run.stderr.decode(errors="replace")
    log_dir = Path(os.environ["DBAAS_STATE_DIR"]) / "log"  # kept with DBAAS_TEST_KEEP_STATE
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "js_sdk.log").write_text(stderr)
    (log_dir / "js_sdk_report.json").write_bytes(run.stdout)
    assert run.returncode == 0, f"node exited {run.returncode}:\n{stderr[-4000:]}"
    result: Report = json.loads(run.stdout.decode().strip().splitlines()[-1])
    assert result["fatal"] is None, result["fatal"]
    assert not leftovers, f"the run left instances behind: {leftovers}\n{stderr[-4000:]}"
    created = result["calls"].get("createInstance", {}).get("value") or {}
    if created.get("id"):
        assert instance_resources(docker_client, created["id"]) == {
            "containers": [],
            "networks": [],
            "volumes": [],
        }
    yield result


# --- reading the report -----------------------------------------------------------------------


def _require(*operation_ids: str) -> None:
    """A group's operations must be routed: a missing one fails here, by name, never skips."""
    missing = sorted(set(operation_ids) - rdb_operations.implemented())
    assert not missing, f"not routed by our API: {missing}"


def ok(report: Report, label: str) -> Any:
    """What the SDK returned for the call `label` (which must have succeeded)."""
    call = report["calls"].get(label)
    assert call is not None, f"{label}: not called (an earlier step it needs failed?)"
    assert not call.get("skipped"), f"{label}: {call['op']} is not routed"
    assert call["ok"], f"{label}: {call['error']}"
    return call["value"]


def failed(report: Report, label: str) -> dict[str, Any]:
    """The error the SDK raised for the call `label` (which must have failed)."""
    call = report["calls"].get(label)
    assert call is not None, f"{label}: not called"
    assert not call.get("skipped"), f"{label}: {call['op']} is not routed"
    assert not call["ok"], f"{label}: expected an error, got {call['value']}"
    error: dict[str, Any] = call["error"]
    return error


def not_found(report: Report, label: str, resource: str, resource_id: str) -> None:
    error = failed(report, label)
    assert error["name"] == "ResourceNotFoundError", error
    assert (error["status"], error["resource"], error["resourceId"]) == (
        404,
        resource,
        resource_id,
    ), error


def invalid(report: Report, label: str, argument: str | None = None) -> None:
    error = failed(report, label)
    assert (error["name"], error["status"]) == ("InvalidArgumentsError", 400), error
    if argument is not None:
        names = [d["argument_name"] for d in error["body"]["details"]]
        assert any(n.startswith(argument) for n in names), error


def _time(value: Any) -> datetime:
    assert isinstance(value, str), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _settings(instance: dict[str, Any]) -> dict[str, str]:
    pairs = {s["name"]: s["value"] for s in instance["settings"]}
    assert all(isinstance(v, str) for v in pairs.values()), instance["settings"]
    return pairs


def _lb(instance: dict[str, Any]) -> dict[str, Any]:
    (endpoint,) = [e for e in instance["endpoints"] if "loadBalancer" in e]
    assert endpoint["loadBalancer"] == {} and isinstance(endpoint["port"], int), endpoint
    assert isinstance(endpoint["ip"], str) and endpoint["ip"], endpoint
    return endpoint


def _instance_id(report: Report) -> str:
    instance_id: str = ok(report, "createInstance")["id"]
    return instance_id


# --- the tests --------------------------------------------------------------------------------


def test_every_required_operation_is_routed() -> None:
    """Issue 16's operations (all but backups and snapshots) are there."""
    missing = sorted(rdb_operations.REQUIRED - rdb_operations.implemented())
    assert not missing, f"RDB operations not routed by our API: {missing}"


def test_the_pinned_sdk_drove_every_routed_operation(report: Report) -> None:
    assert report["sdk"]["@scaleway/sdk"] == SDK_VERSION
    unnamed = [op.js for op in rdb_operations.OPERATIONS if op.js not in report["methods"]]
    assert not unnamed, f"not methods of the JS SDK: {unnamed}"
    called = {c["op"] for c in report["calls"].values() if not c.get("skipped")}
    undriven = sorted((rdb_operations.implemented() & rdb_operations.REQUIRED) - called)
    assert not undriven, f"routed but never called through the JS SDK: {undriven}"


def test_catalog(report: Report) -> None:
    _require("ListDatabaseEngines", "ListNodeTypes")
    engines = ok(report, "listDatabaseEngines")
    assert engines["totalCount"] == len(engines["engines"]) >= 2
    postgres = next(e for e in engines["engines"] if e["name"] == "PostgreSQL")
    assert postgres["region"] == "fr-par" and postgres["logoUrl"].startswith("https://")
    versions = [v["name"] for v in postgres["versions"]]
    assert "PostgreSQL-15" in versions and versions == sorted(versions, reverse=True)
    pg15 = next(v for v in postgres["versions"] if v["name"] == "PostgreSQL-15")
    assert pg15["version"] == "15" and pg15["disabled"] is False
    _time(pg15["endOfLife"])
    work_mem = next(s for s in pg15["availableSettings"] if s["name"] == "work_mem")
    assert work_mem["propertyType"] == "INT" and work_mem["hotConfigurable"] is True
    assert isinstance(work_mem["intMin"], int) and isinstance(work_mem["intMax"], int)
    assert {s["name"] for s in pg15["availableInitSettings"]} >= {"timezone"}

    filtered = ok(report, "listDatabaseEngines.name")
    assert [e["name"] for e in filtered["engines"]] == ["PostgreSQL"]
    assert [v["name"] for v in filtered["engines"][0]["versions"]] == ["PostgreSQL-15"]

    node_types = ok(report, "listNodeTypes")
    assert node_types["totalCount"] == len(node_types["nodeTypes"]) >= 2
    dev_s = next(n for n in node_types["nodeTypes"] if n["name"] == "db-dev-s")
    assert dev_s["stockStatus"] in {"available", "low_stock", "out_of_stock"}
    assert isinstance(dev_s["memory"], int) and isinstance(dev_s["vcpus"], int)
    assert dev_s["generation"].startswith("generation_") and dev_s["region"] == "fr-par"
    assert all(n["disabled"] is False for n in node_types["nodeTypes"])
    volume = dev_s["availableVolumeTypes"][0]
    assert {"type", "minSize", "maxSize", "chunkSize", "class"} <= set(volume)
    # .all() with one node type a page: every page fetched, by total_count.
    everything = ok(report, "listNodeTypes.all")
    assert [n["name"] for n in everything] == [n["name"] for n in node_types["nodeTypes"]]


def test_instance_create_get_list_update(report: Report, tenant: Tenant) -> None:
    _require("CreateInstance", "GetInstance", "ListInstances", "UpdateInstance")
    invalid(report, "createInstance.invalid", "password")

    created = ok(report, "createInstance")
    assert created["status"] == "provisioning"
    assert (created["organizationId"], created["projectId"], created["region"]) == (
        tenant.organization_id,
        tenant.project_id,
        "fr-par",
    )
    assert (created["engine"], created["nodeType"], created["isHaCluster"]) == (
        "PostgreSQL-15",
        "db-dev-s",
        False,
    )
    assert created["tags"] == ["js", "conformance"]
    assert created["initSettings"] == [{"name": "timezone", "value": "UTC"}]
    assert created["encryption"] == {"enabled": False} and created["backupSameRegion"] is False
    assert created["volume"]["type"] == "lssd" and created["volume"]["class"] == "lssd"
    assert isinstance(created["volume"]["size"], int) and created["volume"]["size"] > 0
    schedule = created["backupSchedule"]
    assert schedule["disabled"] is True and isinstance(schedule["frequency"], int)
    assert isinstance(created["logsPolicy"]["maxAgeRetention"], int)
    assert created["readReplicas"] == [] and created["maintenances"] == []
    assert isinstance(created["upgradableVersion"], list)
    _time(created["createdAt"])

    ready = ok(report, "waitForInstance.created")
    assert ready["status"] == "ready" and ready["id"] == created["id"]
    endpoint = _lb(ready)
    assert ready["endpoint"] == endpoint  # the deprecated mirror of the load balancer
    assert _settings(ready)["work_mem"] == "4"  # defaults are listed once ready

    got = ok(report, "getInstance")
    assert got["id"] == created["id"] and got["status"] == "ready"
    not_found(report, "getInstance.unknown", "instance", UNKNOWN_ID)

    page = ok(report, "listInstances")
    assert page["totalCount"] == 1 and [i["id"] for i in page["instances"]] == [created["id"]]
    assert [i["id"] for i in ok(report, "listInstances.all")] == [created["id"]]

    updated = ok(report, "updateInstance")
    assert updated["name"] == created["name"] + "-renamed"
    assert updated["tags"] == ["js", "renamed"] and updated["status"] == "ready"

    not_found(report, "cloneInstance.unknown", "instance", UNKNOWN_ID)
    error = failed(report, "applyInstanceMaintenance.none")
    assert (error["name"], error["status"]) == ("PreconditionFailedError", 412), error


def test_certificate_is_the_raw_pem_file(report: Report) -> None:
    """The JS SDK asks for `?dl=1` and keeps the body as a file (a Blob)."""
    _require("GetInstanceCertificate")
    blob = ok(report, "getInstanceCertificate")
    assert blob["blob"] is True and blob["type"] == "application/x-pem-file", blob
    assert blob["text"].startswith("-----BEGIN CERTIFICATE-----"), blob["text"][:80]
    cert = x509.load_pem_x509_certificate(blob["text"].encode())
    assert blob["size"] == len(blob["text"].encode())
    assert cert.not_valid_after_utc > cert.not_valid_before_utc


def test_acls(report: Report) -> None:
    _require(
        "ListInstanceACLRules", "AddInstanceACLRules", "SetInstanceACLRules",
        "DeleteInstanceACLRules",
    )  # fmt: skip
    port = _lb(ok(report, "waitForInstance.created"))["port"]
    initial = ok(report, "listInstanceACLRules")
    assert initial["totalCount"] == 1
    assert initial["rules"] == [
        {
            "ip": "0.0.0.0/0",
            "port": port,
            "protocol": "tcp",
            "direction": "inbound",
            "action": "allow",
            "description": "Allow All",
        }
    ]
    added = ok(report, "addInstanceACLRules")["rules"]  # every rule after the add
    assert [(r["ip"], r["description"]) for r in added] == [
        ("0.0.0.0/0", "Allow All"),
        ("192.0.2.0/24", "js documentation net"),
    ]
    assert ok(report, "waitForInstance.acl-add")["status"] == "ready"
    replaced = ok(report, "setInstanceACLRules")["rules"]
    assert [r["ip"] for r in replaced] == ["0.0.0.0/0", "198.51.100.7/32"]
    assert ok(report, "waitForInstance.acl-set")["status"] == "ready"
    deleted = ok(report, "deleteInstanceACLRules")["rules"]  # only what was there
    assert [r["ip"] for r in deleted] == ["198.51.100.7/32"]
    assert ok(report, "waitForInstance.acl-delete")["status"] == "ready"
    assert [r["ip"] for r in ok(report, "listInstanceACLRules.after")] == ["0.0.0.0/0"]


def test_users_databases_privileges(report: Report) -> None:
    _require(
        "ListUsers", "CreateUser", "UpdateUser", "DeleteUser", "ListDatabases",
        "CreateDatabase", "DeleteDatabase", "ListPrivileges", "SetPrivilege",
    )  # fmt: skip
    users = ok(report, "listUsers.initial")  # the service's own roles are not listed
    assert users == {"users": [{"name": ADMIN, "isAdmin": True}], "totalCount": 1}
    databases = ok(report, "listDatabases.initial")
    assert databases["totalCount"] == 1
    (rdb,) = databases["databases"]
    assert (rdb["name"], rdb["owner"], rdb["managed"]) == ("rdb", "_rdb_superadmin", True)
    assert isinstance(rdb["size"], int) and rdb["size"] > 0
    privileges = ok(report, "listPrivileges.initial")["privileges"]
    assert {"permission": "all", "databaseName": "rdb", "userName": ADMIN} in privileges

    created_db = ok(report, "createDatabase")
    assert created_db["name"] == DATABASE and created_db["managed"] is True
    assert isinstance(created_db["owner"], str) and isinstance(created_db["size"], int)
    assert ok(report, "createUser") == {"name": APP_USER, "isAdmin": False}
    duplicate = failed(report, "createUser.duplicate")
    assert duplicate["name"] != "ScalewayError", duplicate  # a typed Scaleway error
    assert duplicate["status"] in (400, 409, 412), duplicate

    assert ok(report, "listUsers.name") == {
        "users": [{"name": APP_USER, "isAdmin": False}],
        "totalCount": 1,
    }
    assert [u["name"] for u in ok(report, "listUsers.all")] == [APP_USER, ADMIN]
    assert ok(report, "updateUser") == {"name": APP_USER, "isAdmin": False}
    error = failed(report, "updateUser.unknown")
    assert (error["name"], error["status"], error["resourceId"]) == (
        "ResourceNotFoundError",
        404,
        "js_nobody",
    ), error

    by_name = ok(report, "listDatabases.name")
    assert by_name["totalCount"] == 1 and by_name["databases"][0]["name"] == DATABASE
    sizeless = ok(report, "listDatabases.skipSize")
    assert [d["name"] for d in sizeless] == ["rdb", DATABASE]  # name_desc
    assert {d["size"] for d in sizeless} == {0}

    readwrite = {"permission": "readwrite", "databaseName": DATABASE, "userName": APP_USER}
    assert ok(report, "setPrivilege") == readwrite
    assert ok(report, "listPrivileges.user") == {"privileges": [readwrite], "totalCount": 1}
    assert ok(report, "setPrivilege.none")["permission"] == "none"

    assert ok(report, "deleteUser") is None  # 204
    assert ok(report, "deleteDatabase") is None  # 204
    assert ok(report, "listUsers.afterDelete") == {"users": [], "totalCount": 0}
    assert ok(report, "listDatabases.afterDelete") == {"databases": [], "totalCount": 0}


def test_settings(report: Report) -> None:
    _require("AddInstanceSettings", "SetInstanceSettings", "DeleteInstanceSettings")
    added = {s["name"]: s["value"] for s in ok(report, "addInstanceSettings")["settings"]}
    assert added.get("work_mem") == "8", added
    assert _settings(ok(report, "waitForInstance.settings-add"))["work_mem"] == "8"

    # PUT replaces the whole set: what it names, as sent; every other setting back to what a
    # new instance shows (work_mem=8 from the add above included).
    defaults = _settings(ok(report, "waitForInstance.created"))
    replaced = {s["name"]: s["value"] for s in ok(report, "setInstanceSettings")["settings"]}
    assert replaced == {**defaults, "work_mem": "16", "maintenance_work_mem": "200"}
    after_set = _settings(ok(report, "waitForInstance.settings-set"))
    assert (after_set["work_mem"], after_set["maintenance_work_mem"]) == ("16", "200")

    invalid(report, "addInstanceSettings.invalid")
    ok(report, "deleteInstanceSettings")
    after_delete = _settings(ok(report, "waitForInstance.settings-delete"))
    assert after_delete["work_mem"] == "16"
    assert after_delete.get("maintenance_work_mem") != "200", after_delete


def test_endpoints(report: Report) -> None:
    _require("GetEndpoint", "CreateEndpoint", "DeleteEndpoint", "MigrateEndpoint")
    before = _lb(ok(report, "getInstance.endpoints"))
    assert ok(report, "getEndpoint") == before
    assert ok(report, "deleteEndpoint") is None  # 204
    without = ok(report, "waitForInstance.endpoint-delete")
    assert without["status"] == "ready"
    assert not [e for e in without["endpoints"] if "loadBalancer" in e]
    assert without.get("endpoint") is None
    not_found(report, "getEndpoint.unknown", "endpoint", UNKNOWN_ID)
    invalid(report, "createEndpoint.privateNetwork")

    created = ok(report, "createEndpoint")
    assert created["loadBalancer"] == {} and isinstance(created["id"], str)
    again = ok(report, "waitForInstance.endpoint-create")
    assert again["status"] == "ready" and _lb(again)["id"] == created["id"]
    not_found(report, "migrateEndpoint.unknownInstance", "instance", UNKNOWN_ID)


def test_read_replicas(report: Report) -> None:
    _require(
        "CreateReadReplica", "GetReadReplica", "DeleteReadReplica", "ResetReadReplica",
        "CreateReadReplicaEndpoint", "PromoteReadReplica", "DeleteEndpoint",
    )  # fmt: skip
    instance_id = _instance_id(report)
    created = ok(report, "createReadReplica")
    assert created["status"] == "provisioning" and created["instanceId"] == instance_id
    assert created["region"] == "fr-par" and isinstance(created["sameZone"], bool)
    replica = ok(report, "waitForReadReplica")
    assert replica["status"] == "ready" and replica["id"] == created["id"]
    (direct,) = replica["endpoints"]
    assert direct["directAccess"] == {} and isinstance(direct["port"], int), direct
    assert ok(report, "getReadReplica") == replica
    listed = ok(report, "getInstance.withReplica")["readReplicas"]
    assert [r["id"] for r in listed] == [replica["id"]]

    invalid(report, "createReadReplicaEndpoint.second", "endpoint_spec")
    assert ok(report, "deleteEndpoint.replica") is None
    assert ok(report, "waitForReadReplica.endpoint-delete")["endpoints"] == []
    assert ok(report, "createReadReplicaEndpoint")["id"] == replica["id"]
    (new_direct,) = ok(report, "waitForReadReplica.endpoint-create")["endpoints"]
    assert new_direct["directAccess"] == {}

    assert ok(report, "resetReadReplica")["status"] == "initializing"
    assert ok(report, "waitForReadReplica.reset")["status"] == "ready"
    not_found(report, "promoteReadReplica.unknown", "read_replica", UNKNOWN_ID)
    assert ok(report, "deleteReadReplica")["status"] == "deleting"
    not_found(report, "waitForReadReplica.gone", "read_replica", replica["id"])
    assert ok(report, "waitForInstance.replica-gone")["readReplicas"] == []


def test_logs(report: Report) -> None:
    _require(
        "PrepareInstanceLogs", "ListInstanceLogs", "GetInstanceLog", "ListInstanceLogsDetails",
        "PurgeInstanceLogs",
    )  # fmt: skip
    prepared = ok(report, "prepareInstanceLogs")["instanceLogs"]
    assert prepared and all(log["status"] in ("creating", "ready") for log in prepared)
    log = ok(report, "waitForInstanceLog")
    assert log["id"] == prepared[0]["id"] and log["status"] == "ready"
    assert log["downloadUrl"].startswith("http") and isinstance(log["nodeName"], str)
    assert _time(log["expiresAt"]) > _time(log["createdAt"])
    assert ok(report, "getInstanceLog") == log
    listed = ok(report, "listInstanceLogs")["instanceLogs"]
    assert log["id"] in {entry["id"] for entry in listed}
    details = ok(report, "listInstanceLogsDetails")["details"]
    assert all(isinstance(d["logName"], str) and isinstance(d["size"], int) for d in details)
    assert ok(report, "purgeInstanceLogs") is None  # 204


def test_renew_restart_upgrade_metrics_delete(report: Report) -> None:
    _require(
        "RenewInstanceCertificate", "RestartInstance", "UpgradeInstance", "GetInstanceMetrics",
        "DeleteInstance",
    )  # fmt: skip
    instance_id = _instance_id(report)
    assert ok(report, "renewInstanceCertificate") is None  # 204
    assert ok(report, "waitForInstance.renew")["status"] == "ready"
    assert ok(report, "restartInstance")["status"] == "restarting"
    busy = failed(report, "updateInstance.transient")
    assert (busy["name"], busy["status"], busy["resource"], busy["resourceId"]) == (
        "TransientStateError",
        409,
        "instance",
        instance_id,
    ), busy
    assert busy["body"]["current_state"] == "restarting"
    assert ok(report, "waitForInstance.restart")["status"] == "ready"
    upgrading = ok(report, "upgradeInstance")
    assert upgrading["id"] == instance_id and upgrading["status"] == "initializing"
    upgraded = ok(report, "waitForInstance.upgrade")
    assert (upgraded["status"], upgraded["nodeType"]) == ("ready", "db-dev-m")

    series = ok(report, "getInstanceMetrics")["timeseries"]
    assert series, "no metrics for an instance that has run for a while"
    for one in series:
        assert isinstance(one["name"], str) and isinstance(one["metadata"], dict)
        for point in one["points"]:  # the SDK made {timestamp, value} of [time, value]
            _time(point["timestamp"])
            assert isinstance(point["value"], int | float)

    assert ok(report, "getInstance.final")["id"] == instance_id
    assert ok(report, "deleteInstance")["status"] == "deleting"
    not_found(report, "waitForInstance.deleted", "instance", instance_id)
