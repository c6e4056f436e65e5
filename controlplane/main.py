"""The API application factory."""

from __future__ import annotations

from fastapi import FastAPI

from controlplane.api.errors import install_error_handlers
from controlplane.api.routes import register_routes


def create_app() -> FastAPI:
    app = FastAPI(title="dbaas: Scaleway RDB v1 compatible API", version="0.1.0")
    install_error_handlers(app)
    register_routes(app)
    return app
