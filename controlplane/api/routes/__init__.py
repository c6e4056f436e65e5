"""Every router of the API, mounted under the RDB v1 prefix."""

from __future__ import annotations

from fastapi import FastAPI

from controlplane.api.routes import health

RDB_PREFIX = "/rdb/v1/regions/{region}"


def register_routes(app: FastAPI) -> None:
    app.include_router(health.router)
