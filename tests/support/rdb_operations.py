"""The 58 operations of Scaleway RDB v1, and which of them our API routes.

One table (from the public OpenAPI description, with the official SDKs' method names) that the
client conformance tests and the README's operation list are built from. ``implemented`` reads
the routes of the application itself, so the list cannot drift from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "/rdb/v1/regions/{region}"


@dataclass(frozen=True)
class RdbOperation:
    operation_id: str  # OpenAPI operationId = Go method
    method: str
    path: str  # below PREFIX
    group: str

    @property
    def js(self) -> str:
        """The `@scaleway/sdk` method (`Rdb.v1.API`)."""
        return self.operation_id[0].lower() + self.operation_id[1:]

    @property
    def python(self) -> str:
        """The `scaleway` SDK method (`RdbV1API`)."""
        return re.sub(
            r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", self.operation_id
        ).lower()


def _ops(group: str, *rows: tuple[str, str, str]) -> list[RdbOperation]:
    return [RdbOperation(op, method, path, group) for op, method, path in rows]


OPERATIONS: list[RdbOperation] = [
    *_ops(
        "catalog",
        ("ListDatabaseEngines", "GET", "/database-engines"),
        ("ListNodeTypes", "GET", "/node-types"),
    ),
    *_ops(
        "instances",
        ("ListInstances", "GET", "/instances"),
        ("CreateInstance", "POST", "/instances"),
        ("GetInstance", "GET", "/instances/{instance_id}"),
        ("UpdateInstance", "PATCH", "/instances/{instance_id}"),
        ("DeleteInstance", "DELETE", "/instances/{instance_id}"),
        ("CloneInstance", "POST", "/instances/{instance_id}/clone"),
        ("RestartInstance", "POST", "/instances/{instance_id}/restart"),
        ("UpgradeInstance", "POST", "/instances/{instance_id}/upgrade"),
        ("GetInstanceCertificate", "GET", "/instances/{instance_id}/certificate"),
        ("RenewInstanceCertificate", "POST", "/instances/{instance_id}/renew-certificate"),
        ("GetInstanceMetrics", "GET", "/instances/{instance_id}/metrics"),
        ("ApplyInstanceMaintenance", "POST", "/instances/{instance_id}/apply-maintenance"),
    ),
    *_ops(
        "logs",
        ("PrepareInstanceLogs", "POST", "/instances/{instance_id}/prepare-logs"),
        ("ListInstanceLogs", "GET", "/instances/{instance_id}/logs"),
        ("GetInstanceLog", "GET", "/logs/{instance_log_id}"),
        ("PurgeInstanceLogs", "POST", "/instances/{instance_id}/purge-logs"),
        ("ListInstanceLogsDetails", "GET", "/instances/{instance_id}/logs-details"),
    ),
    *_ops(
        "read replicas",
        ("CreateReadReplica", "POST", "/read-replicas"),
        ("GetReadReplica", "GET", "/read-replicas/{read_replica_id}"),
        ("DeleteReadReplica", "DELETE", "/read-replicas/{read_replica_id}"),
        ("ResetReadReplica", "POST", "/read-replicas/{read_replica_id}/reset"),
        ("PromoteReadReplica", "POST", "/read-replicas/{read_replica_id}/promote"),
        ("CreateReadReplicaEndpoint", "POST", "/read-replicas/{read_replica_id}/endpoints"),
    ),
    *_ops(
        "endpoints",
        ("CreateEndpoint", "POST", "/instances/{instance_id}/endpoints"),
        ("GetEndpoint", "GET", "/endpoints/{endpoint_id}"),
        ("DeleteEndpoint", "DELETE", "/endpoints/{endpoint_id}"),
        ("MigrateEndpoint", "POST", "/endpoints/{endpoint_id}/migrate"),
    ),
    *_ops(
        "settings",
        ("AddInstanceSettings", "POST", "/instances/{instance_id}/settings"),
        ("SetInstanceSettings", "PUT", "/instances/{instance_id}/settings"),
        ("DeleteInstanceSettings", "DELETE", "/instances/{instance_id}/settings"),
    ),
    *_ops(
        "acls",
        ("ListInstanceACLRules", "GET", "/instances/{instance_id}/acls"),
        ("AddInstanceACLRules", "POST", "/instances/{instance_id}/acls"),
        ("SetInstanceACLRules", "PUT", "/instances/{instance_id}/acls"),
        ("DeleteInstanceACLRules", "DELETE", "/instances/{instance_id}/acls"),
    ),
    *_ops(
        "users",
        ("ListUsers", "GET", "/instances/{instance_id}/users"),
        ("CreateUser", "POST", "/instances/{instance_id}/users"),
        ("UpdateUser", "PATCH", "/instances/{instance_id}/users/{name}"),
        ("DeleteUser", "DELETE", "/instances/{instance_id}/users/{name}"),
    ),
    *_ops(
        "databases",
        ("ListDatabases", "GET", "/instances/{instance_id}/databases"),
        ("CreateDatabase", "POST", "/instances/{instance_id}/databases"),
        ("DeleteDatabase", "DELETE", "/instances/{instance_id}/databases/{name}"),
    ),
    *_ops(
        "privileges",
        ("ListPrivileges", "GET", "/instances/{instance_id}/privileges"),
        ("SetPrivilege", "PUT", "/instances/{instance_id}/privileges"),
    ),
    *_ops(
        "backups",
        ("ListDatabaseBackups", "GET", "/backups"),
        ("CreateDatabaseBackup", "POST", "/backups"),
        ("GetDatabaseBackup", "GET", "/backups/{database_backup_id}"),
        ("UpdateDatabaseBackup", "PATCH", "/backups/{database_backup_id}"),
        ("DeleteDatabaseBackup", "DELETE", "/backups/{database_backup_id}"),
        ("RestoreDatabaseBackup", "POST", "/backups/{database_backup_id}/restore"),
        ("ExportDatabaseBackup", "POST", "/backups/{database_backup_id}/export"),
    ),
    *_ops(
        "snapshots",
        ("ListSnapshots", "GET", "/snapshots"),
        ("GetSnapshot", "GET", "/snapshots/{snapshot_id}"),
        ("CreateSnapshot", "POST", "/instances/{instance_id}/snapshots"),
        ("UpdateSnapshot", "PATCH", "/snapshots/{snapshot_id}"),
        ("DeleteSnapshot", "DELETE", "/snapshots/{snapshot_id}"),
        ("CreateInstanceFromSnapshot", "POST", "/snapshots/{snapshot_id}/create-instance"),
    ),
]
BY_ID = {op.operation_id: op for op in OPERATIONS}

# Backups and snapshots come in an issue of their own; every other group must be routed.
REQUIRED_GROUPS = frozenset(op.group for op in OPERATIONS) - {"backups", "snapshots"}
REQUIRED = frozenset(op.operation_id for op in OPERATIONS if op.group in REQUIRED_GROUPS)


def path_shape(path: str) -> str:
    """Path parameter names do not matter, only where they are."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def routed() -> set[tuple[str, str]]:
    """(method, path shape) of every route of the application, read from its OpenAPI
    description (built without starting the service)."""
    from fastapi import FastAPI

    from controlplane.api.routes import register_routes

    app = FastAPI()
    register_routes(app)
    return {
        (method.upper(), path_shape(path))
        for path, methods in app.openapi()["paths"].items()
        for method in methods
    }


def implemented() -> frozenset[str]:
    """The operation ids our API routes."""
    have = routed()
    return frozenset(
        op.operation_id for op in OPERATIONS if (op.method, path_shape(PREFIX + op.path)) in have
    )


def markdown_table(done: frozenset[str]) -> str:
    """The README's list of operations: method, path, SDK names, whether it is there."""
    lines = [
        "| group | method | path (below `/rdb/v1/regions/{region}`) | Python SDK | JS SDK | here |",
        "|---|---|---|---|---|---|",
    ]
    for op in OPERATIONS:
        mark = "yes" if op.operation_id in done else "no"
        lines.append(
            f"| {op.group} | {op.method} | `{op.path}` | `{op.python}` | `{op.js}` | {mark} |"
        )
    lines.append(f"\n{len(done)} of {len(OPERATIONS)} operations are implemented.")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m tests.support.rdb_operations
    print(markdown_table(implemented()))
