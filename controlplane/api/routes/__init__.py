"""Every router of the API."""

from __future__ import annotations

from fastapi import FastAPI

from controlplane.api import prometheus
from controlplane.api.routes import (
    account,
    acls,
    backups,
    catalog,
    console,
    databases,
    endpoints,
    health,
    instances,
    lifecycle,
    logs,
    pitr,
    privileges,
    read_replicas,
    settings,
    snapshots,
    users,
)


def register_routes(app: FastAPI) -> None:
    app.include_router(health.router)
    app.include_router(prometheus.router)
    app.include_router(catalog.router)
    app.include_router(instances.router)
    app.include_router(lifecycle.router)
    app.include_router(read_replicas.router)
    app.include_router(acls.router)
    app.include_router(settings.router)
    app.include_router(endpoints.router)
    app.include_router(users.router)
    app.include_router(databases.router)
    app.include_router(privileges.router)
    app.include_router(logs.router)
    app.include_router(logs.downloads)
    app.include_router(backups.router)
    app.include_router(backups.downloads)
    app.include_router(snapshots.router)
    app.include_router(pitr.router)  # an extension: point-in-time recovery
    app.include_router(account.router)  # Account API v3: the key's projects
    app.include_router(console.router)  # the web console (static files)
